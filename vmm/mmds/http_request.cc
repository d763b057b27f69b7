#include "vmm/mmds/http_request.h"

#include <algorithm>
#include <cstdint>

namespace ember::mmds {

namespace {

constexpr std::string_view kCrLf = "\r\n";
constexpr std::string_view kInvalidRequest = "Invalid request.";

std::string_view trim(std::string_view s) {
    auto space = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// Well-formed UTF-8 (Rust's str::from_utf8): no overlongs, surrogates or values past U+10FFFF.
bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto b0 = static_cast<uint8_t>(s[i]);
        size_t n = 0;
        uint8_t lo = 0x80, hi = 0xbf;
        if (b0 < 0x80) {
            ++i;
            continue;
        } else if (b0 >= 0xc2 && b0 <= 0xdf) {
            n = 2;
        } else if (b0 >= 0xe0 && b0 <= 0xef) {
            n = 3;
            if (b0 == 0xe0) lo = 0xa0;
            if (b0 == 0xed) hi = 0x9f;
        } else if (b0 >= 0xf0 && b0 <= 0xf4) {
            n = 4;
            if (b0 == 0xf0) lo = 0x90;
            if (b0 == 0xf4) hi = 0x8f;
        } else {
            return false;
        }
        if (s.size() - i < n) return false;
        const auto b1 = static_cast<uint8_t>(s[i + 1]);
        if (b1 < lo || b1 > hi) return false;
        for (size_t k = 2; k < n; ++k) {
            const auto b = static_cast<uint8_t>(s[i + k]);
            if (b < 0x80 || b > 0xbf) return false;
        }
        i += n;
    }
    return true;
}

// endpoint.rs: the end of the first "\n\n" or "\n\r\n", the only place a request may end.
std::optional<size_t> find_head_end(std::string_view b) {
    if (b.size() <= 2) return std::nullopt;
    for (size_t i = 0; i + 1 < b.size(); ++i) {
        if (b[i] != '\n') continue;
        if (b[i + 1] == '\n') return i + 2;
        if (i + 3 <= b.size() && b[i + 1] == '\r' && b[i + 2] == '\n') return i + 3;
    }
    return std::nullopt;
}

HttpParseError error(int status, std::string body) { return {status, std::move(body)}; }

// micro_http's HttpHeaderError texts, as endpoint.rs answers them (without the
// "Invalid header. Reason: " prefix RequestError adds).
HttpParseError invalid_value(std::string_view key, std::string_view value) {
    return error(400, "Invalid value. Key:" + std::string(key) + "; Value:" + std::string(value));
}

// micro_http's Encoding::try_from: refusing identity leaves no encoding we could answer in.
std::optional<HttpParseError> check_accept_encoding(std::string_view value) {
    if (value.empty()) return error(400, std::string(kInvalidRequest));
    const bool has_identity = value.find("identity") != std::string_view::npos;
    size_t pos = 0;
    for (;;) {
        const size_t comma = value.find(',', pos);
        const std::string_view item = value.substr(
            pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        const std::string_view t = trim(item);
        if (t == "identity;q=0" || (t == "*;q=0" && !has_identity)) {
            return invalid_value("Accept-Encoding", item);
        }
        if (comma == std::string_view::npos) return std::nullopt;
        pos = comma + 1;
    }
}

std::optional<MediaType> parse_media_type(std::string_view value) {
    const std::string_view t = trim(value);
    if (t == "text/plain") return MediaType::kPlainText;
    if (t == "application/json") return MediaType::kApplicationJson;
    return std::nullopt;
}

// One header line (headers.rs parse_header_line); values micro_http does not support are
// skipped, as its Headers::try_from does.
std::optional<HttpParseError> parse_header_line(std::string_view line, HttpRequest& req,
                                                uint32_t& content_length) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
        return error(400, "Header is incorrectly formatted. Key: " + std::string(line));
    }
    const std::string_view key = line.substr(0, colon);
    const std::string_view value = line.substr(colon + 1);
    const std::string_view name = trim(key);
    if (iequals(name, "content-length")) {
        if (!parse_u32(trim(value), content_length)) return invalid_value(key, value);
    } else if (iequals(name, "accept")) {
        if (auto media = parse_media_type(value)) req.accept = *media;
    } else if (iequals(name, "accept-encoding")) {
        return check_accept_encoding(trim(value));
    } else if (iequals(name, "content-type") || iequals(name, "transfer-encoding") ||
               iequals(name, "expect") || iequals(name, "server")) {
        // Known to micro_http and of no consequence for a request without a body.
    } else {
        req.custom.push_back(HttpHeader{std::string(name), std::string(trim(value))});
    }
    return std::nullopt;
}

std::optional<HttpMethod> parse_method(std::string_view s) {
    if (s == "GET") return HttpMethod::kGet;
    if (s == "HEAD") return HttpMethod::kHead;
    if (s == "POST") return HttpMethod::kPost;
    if (s == "PUT") return HttpMethod::kPut;
    if (s == "PATCH") return HttpMethod::kPatch;
    if (s == "DELETE") return HttpMethod::kDelete;
    return std::nullopt;
}

// Request::try_from on exactly the head's bytes.
std::optional<HttpParseError> parse_head(std::string_view head, HttpRequest& req,
                                         uint32_t& content_length) {
    const size_t line_end = head.find(kCrLf);
    // The shortest request line: "GET" SP one URI byte SP "HTTP/1.x", counted as micro_http does.
    constexpr size_t kMinLineLength = 3 + 1 + 8 + 2;
    if (line_end == std::string_view::npos || line_end < kMinLineLength) {
        return error(400, std::string(kInvalidRequest));
    }
    const std::string_view line = head.substr(0, line_end);
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return error(400, std::string(kInvalidRequest));
    const auto method = parse_method(line.substr(0, sp1));
    if (!method) return error(501, "Unsupported HTTP method.");
    const std::string_view uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (uri.empty()) return error(400, "Empty URI not allowed.");
    if (!valid_utf8(uri)) return error(400, "Cannot parse URI as UTF-8.");
    const std::string_view version = line.substr(sp2 + 1);
    if (version == "HTTP/1.0") {
        req.version = HttpVersion::kHttp10;
    } else if (version == "HTTP/1.1") {
        req.version = HttpVersion::kHttp11;
    } else {
        return error(501, "Unsupported HTTP version.");
    }
    req.method = *method;
    req.uri = std::string(uri);

    const std::string_view rest = head.substr(line_end);
    const size_t headers_end = rest.find("\r\n\r\n");
    if (headers_end == std::string_view::npos) return error(400, std::string(kInvalidRequest));
    if (headers_end == 0) return std::nullopt;
    const std::string_view headers = rest.substr(kCrLf.size(), headers_end - kCrLf.size());
    if (!valid_utf8(headers)) return error(400, std::string(kInvalidRequest));
    size_t pos = 0;
    while (pos <= headers.size()) {
        const size_t eol = headers.find(kCrLf, pos);
        const std::string_view hline =
            headers.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
        if (hline.empty()) break;
        if (auto err = parse_header_line(hline, req, content_length)) return err;
        if (eol == std::string_view::npos) break;
        pos = eol + kCrLf.size();
    }
    // The head ends at its blank line, so a body is never part of it: micro_http finds fewer
    // body bytes than Content-Length announces (Firecracker's test_guest_mmds_hang).
    if (content_length > 0) return error(400, std::string(kInvalidRequest));
    return std::nullopt;
}

}  // namespace

bool parse_u32(std::string_view s, uint32_t& out) {
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    if (s.empty()) return false;
    uint64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<uint64_t>(c - '0');
        if (n > UINT32_MAX) return false;
    }
    out = static_cast<uint32_t>(n);
    return true;
}

const HttpHeader* HttpRequest::find(std::initializer_list<std::string_view> names) const {
    for (const HttpHeader& h : custom) {
        for (std::string_view n : names) {
            if (iequals(h.name, n)) return &h;
        }
    }
    return nullptr;
}

std::string_view HttpRequest::abs_path() const {
    constexpr std::string_view kScheme = "http://";
    const std::string_view u = uri;
    if (u.substr(0, kScheme.size()) == kScheme) {
        const std::string_view host_and_path = u.substr(kScheme.size());
        const size_t slash = host_and_path.find('/');
        return slash == std::string_view::npos ? std::string_view() : host_and_path.substr(slash);
    }
    return !u.empty() && u[0] == '/' ? u : std::string_view();
}

std::optional<HttpParseResult> parse_http_request(std::string_view received) {
    const auto head_end = find_head_end(received);
    if (!head_end) return std::nullopt;
    HttpParseResult result;
    HttpRequest req;
    uint32_t content_length = 0;
    auto err = parse_head(received.substr(0, *head_end), req, content_length);
    // Body bytes already here go with the request they belong to, so that the next request
    // starts where it should; bodies are refused all the same.
    const size_t body = std::min<size_t>(content_length, received.size() - *head_end);
    result.consumed = *head_end + body;
    if (err) {
        result.error = std::move(*err);
    } else {
        result.request = std::move(req);
    }
    return result;
}

}  // namespace ember::mmds
