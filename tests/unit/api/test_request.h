// An HttpRequest as the parser would hand it to the router, for tests that call the router
// directly.
#pragma once

#include <string>

#include "api/http/http_message.h"

namespace ember::api {

inline HttpRequest make_request(HttpMethod method, std::string path, std::string body = {}) {
    static constexpr const char* kNames[] = {"GET", "PUT", "PATCH", "DELETE"};
    return HttpRequest{.method = method,
                       .method_name = kNames[static_cast<int>(method)],
                       .path = std::move(path),
                       .body = std::move(body)};
}

}  // namespace ember::api
