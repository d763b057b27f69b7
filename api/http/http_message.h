// One HTTP/1.1 request as the router sees it, and one response as micro_http (Firecracker's HTTP
// crate) would write it.
#pragma once

#include <string>
#include <string_view>

namespace ember::api {

enum class HttpMethod { kGet, kPut, kPatch, kOther };

struct HttpRequest {
    HttpMethod method = HttpMethod::kOther;
    std::string method_name;  // As sent, for error messages.
    std::string path;         // The URL path, without query.
    std::string body;
};

struct HttpResponse {
    int status = 204;
    std::string body;  // JSON; empty for 204.
    // The request used a deprecated field or endpoint: micro_http's `Deprecation: true` header.
    bool deprecated = false;

    static HttpResponse no_content() { return {204, {}, false}; }
    static HttpResponse json(std::string body) { return {200, std::move(body), false}; }
    // {"fault_message": message} with status 400 unless told otherwise.
    static HttpResponse fault(std::string_view message, int status = 400);
};

std::string_view status_reason(int status);
// The bytes on the wire: status line, Server, Connection, Deprecation, Content-Type,
// Content-Length, body.
std::string serialize(const HttpResponse& response, bool keep_alive);

}  // namespace ember::api
