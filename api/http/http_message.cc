#include "api/http/http_message.h"

#include <fmt/core.h>

#include "api/json/request_json.h"

namespace ember::api {

HttpResponse HttpResponse::fault(std::string_view message, int status) {
    return {status, render_fault(message), false};
}

std::string_view status_reason(int status) {
    switch (status) {
        case 200: return "OK";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Payload Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Unknown";
    }
}

std::string serialize(const HttpResponse& response, bool keep_alive) {
    std::string out = fmt::format("HTTP/1.1 {} {}\r\nServer: Firecracker API\r\nConnection: {}\r\n",
                                  response.status, status_reason(response.status),
                                  keep_alive ? "keep-alive" : "close");
    if (response.deprecated) out += "Deprecation: true\r\n";
    if (response.status != 204) {
        out += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n",
                           response.body.size());
    }
    out += "\r\n";
    if (response.status != 204) out += response.body;
    return out;
}

}  // namespace ember::api
