// Mirrors Firecracker's src/vmm/src/mmds/mod.rs (convert_to_response, respond_to_get_request_v1/
// _v2, respond_to_put_request), token_headers.rs, dumbo's tcp/endpoint.rs (parse_request_bytes)
// and micro_http's Response::write_all: every status, header and text the guest sees.
#include "vmm/mmds/mmds_service.h"

#include <fmt/core.h>

#include <utility>

namespace ember::mmds {

namespace {

constexpr std::string_view kTokenPath = "/latest/api/token";
// token_headers.rs names, matched without regard to case.
constexpr std::string_view kTokenHeader = "x-metadata-token";
constexpr std::string_view kAwsTokenHeader = "x-aws-ec2-metadata-token";
constexpr std::string_view kTtlHeader = "x-metadata-token-ttl-seconds";
constexpr std::string_view kAwsTtlHeader = "x-aws-ec2-metadata-token-ttl-seconds";
constexpr std::string_view kForwardedForHeader = "x-forwarded-for";

// mod.rs VmmMmdsError texts.
constexpr std::string_view kInvalidToken = "MMDS token not valid.";
constexpr std::string_view kInvalidUri = "Invalid URI.";
constexpr std::string_view kMethodNotAllowed = "Not allowed HTTP method.";
constexpr std::string_view kNoToken =
    "No MMDS token provided. Use `X-metadata-token` or `X-aws-ec2-metadata-token` header to "
    "specify the session token.";
constexpr std::string_view kNoTtl =
    "Token time to live value not found. Use `X-metadata-token-ttl-seconds` or "
    "`X-aws-ec2-metadata-token-ttl-seconds` header to specify the token's lifetime.";
constexpr std::string_view kUnsupportedType =
    "Cannot retrieve value. The value has an unsupported type.";

// micro_http writes the code alone, no reason phrase: "HTTP/1.1 200 \r\n".
const char* status_digits(int status) {
    switch (status) {
        case 200: return "200";
        case 400: return "400";
        case 401: return "401";
        case 404: return "404";
        case 405: return "405";
        case 413: return "413";
        case 501: return "501";
        default: return "500";
    }
}

// mod.rs sanitize_uri: every run of '/' becomes one.
std::string sanitize_uri(std::string_view uri) {
    std::string out;
    out.reserve(uri.size());
    for (char c : uri) {
        if (c == '/' && !out.empty() && out.back() == '/') continue;
        out += c;
    }
    return out;
}

}  // namespace

struct MmdsService::Answer {
    int status = 200;
    MediaType content_type = MediaType::kPlainText;
    std::string body;
    bool allow = false;         // "Allow: GET, PUT" (405).
    std::string custom_header;  // "Name: value", for the token's TTL.
};

MmdsService::MmdsService(const MmdsStore& store, MmdsVersion version, bool imds_compat)
    : MmdsService(store, version, imds_compat, nullptr) {}

MmdsService::MmdsService(const MmdsStore& store, MmdsVersion version, bool imds_compat,
                         const Clock* clock)
    : store_(store), version_(version), imds_compat_(imds_compat), tokens_(clock) {}

std::optional<Reply> MmdsService::respond(std::string_view received, std::string& response) {
    const std::string_view window = received.substr(0, kMaxRequestBytes);
    auto parsed = parse_http_request(window);
    HttpVersion version = HttpVersion::kHttp11;
    Answer a;
    Reply reply;
    if (!parsed) {
        if (received.size() < kMaxRequestBytes) return std::nullopt;
        // No request ends within the bound: nothing later can be framed, so answer and close
        // (Firecracker resets the connection once its 2500-byte buffer fills).
        a = Answer{400, MediaType::kApplicationJson, "Invalid request.", false, {}};
        reply = Reply{received.size(), true};
    } else if (parsed->request) {
        version = parsed->request->version;
        a = answer(*parsed->request);
        reply.consumed = parsed->consumed;
    } else {
        // endpoint.rs build_response leaves micro_http's default Content-Type (JSON).
        a = Answer{parsed->error.status,
                   MediaType::kApplicationJson,
                   std::move(parsed->error.body),
                   false,
                   {}};
        reply.consumed = parsed->consumed;
    }

    // micro_http Response::write_all; Firecracker keeps the connection open after every answer.
    response += version == HttpVersion::kHttp10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    response += status_digits(a.status);
    response += " \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n";
    if (a.allow) response += "Allow: GET, PUT\r\n";
    response += a.content_type == MediaType::kApplicationJson ? "Content-Type: application/json\r\n"
                                                              : "Content-Type: text/plain\r\n";
    response += fmt::format("Content-Length: {}\r\n", a.body.size());
    if (!a.custom_header.empty()) response += a.custom_header + "\r\n";
    response += "\r\n";
    response += a.body;
    return reply;
}

MmdsService::Answer MmdsService::answer(const HttpRequest& request) {
    if (request.abs_path().empty()) {
        return Answer{400, MediaType::kPlainText, std::string(kInvalidUri), false, {}};
    }
    switch (request.method) {
        case HttpMethod::kGet: return answer_get(request);
        case HttpMethod::kPut: return answer_put(request);
        default:
            return Answer{405, MediaType::kPlainText, std::string(kMethodNotAllowed), true, {}};
    }
}

MmdsService::Answer MmdsService::answer_get(const HttpRequest& request) {
    // V1 serves without a token and only counts what it was given; V2 requires a valid one.
    const HttpHeader* token = request.find({kTokenHeader, kAwsTokenHeader});
    if (!token) {
        ++counters_.rx_no_token;
        if (version_ == MmdsVersion::kV2) {
            return Answer{401, MediaType::kPlainText, std::string(kNoToken), false, {}};
        }
    } else if (!tokens_.is_valid(token->value)) {
        ++counters_.rx_invalid_token;
        if (version_ == MmdsVersion::kV2) {
            return Answer{401, MediaType::kPlainText, std::string(kInvalidToken), false, {}};
        }
    }

    const std::string_view uri = request.abs_path();
    const std::string path = sanitize_uri(uri);
    // EC2 IMDS ignores Accept; the Content-Type still echoes it, as Firecracker's does.
    const MmdsStore::Format format = !imds_compat_ && request.accept == MediaType::kApplicationJson
                                         ? MmdsStore::Format::kJson
                                         : MmdsStore::Format::kImds;
    if (auto body = store_.render(path, format)) {
        return Answer{200, request.accept, std::move(*body), false, {}};
    }
    if (format == MmdsStore::Format::kImds && store_.render(path, MmdsStore::Format::kJson)) {
        return Answer{501, MediaType::kPlainText, std::string(kUnsupportedType), false, {}};
    }
    return Answer{
        404, MediaType::kPlainText, fmt::format("Resource not found: {}.", uri), false, {}};
}

MmdsService::Answer MmdsService::answer_put(const HttpRequest& request) {
    // A token must not be minted for a request relayed from elsewhere (EC2 IMDSv2's rule).
    if (const HttpHeader* fwd = request.find({kForwardedForHeader})) {
        return Answer{400,
                      MediaType::kPlainText,
                      "Invalid header. Reason: Unsupported header name. Key: " + fwd->name,
                      false,
                      {}};
    }
    const std::string_view uri = request.abs_path();
    if (sanitize_uri(uri) != kTokenPath) {
        return Answer{
            404, MediaType::kPlainText, fmt::format("Resource not found: {}.", uri), false, {}};
    }
    const HttpHeader* ttl_header = request.find({kTtlHeader, kAwsTtlHeader});
    if (!ttl_header) return Answer{400, MediaType::kPlainText, std::string(kNoTtl), false, {}};
    uint32_t ttl = 0;
    if (!parse_u32(ttl_header->value, ttl)) {
        return Answer{400,
                      MediaType::kPlainText,
                      fmt::format("Invalid header. Reason: Invalid value. Key:{}; Value:{}",
                                  ttl_header->name, ttl_header->value),
                      false,
                      {}};
    }
    auto token = tokens_.generate(ttl);
    if (!token) {
        const bool ttl_error = token.error().kind() == ErrorKind::kInvalidInput;
        return Answer{400,
                      MediaType::kPlainText,
                      ttl_error ? token.error().detail() : std::string("Failed to encrypt token."),
                      false,
                      {}};
    }
    return Answer{200, MediaType::kPlainText, std::move(*token), false,
                  fmt::format("{}: {}", ttl_header->name, ttl)};
}

}  // namespace ember::mmds
