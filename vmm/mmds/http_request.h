// The guest's HTTP/1.x request as Firecracker's MMDS reads it: framing from dumbo's
// tcp/endpoint.rs (a request ends at the first blank line, LF or CRLF, and carries no body),
// parsing from micro_http's Request::try_from and Headers (request.rs, headers.rs), with the
// same errors. Linear in the bytes given; the caller bounds them.
// Thread: the vmm thread (called by MmdsService).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ember::mmds {

enum class HttpMethod { kGet, kHead, kPost, kPut, kPatch, kDelete };
enum class HttpVersion { kHttp10, kHttp11 };
enum class MediaType { kPlainText, kApplicationJson };

struct HttpHeader {
    std::string name;  // As the guest wrote it, trimmed.
    std::string value;
};

struct HttpRequest {
    HttpMethod method = HttpMethod::kGet;
    std::string uri;
    HttpVersion version = HttpVersion::kHttp11;
    MediaType accept = MediaType::kPlainText;
    // Headers micro_http does not know, in request order (its "custom entries").
    std::vector<HttpHeader> custom;

    // The first custom header whose name is one of `names` (ASCII case-insensitive).
    const HttpHeader* find(std::initializer_list<std::string_view> names) const;
    // micro_http's Uri::get_abs_path: the path of "http://host/path" or "/path", else "".
    std::string_view abs_path() const;
};

// A request micro_http refuses, with the status and body dumbo's endpoint answers.
struct HttpParseError {
    int status = 400;
    std::string body;
};

struct HttpParseResult {
    size_t consumed = 0;  // The request's bytes (head, plus any body bytes already here).
    std::optional<HttpRequest> request;
    HttpParseError error;  // When there is no request.
};

// Rust's u32::from_str, which Firecracker parses numeric headers with: an optional '+', then
// one or more decimal digits, no overflow.
bool parse_u32(std::string_view s, uint32_t& out);

// Nothing while `received` holds no complete head; else the request or its error.
std::optional<HttpParseResult> parse_http_request(std::string_view received);

}  // namespace ember::mmds
