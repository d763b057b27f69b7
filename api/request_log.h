// What Firecracker's API server says around each request (api_server/mod.rs and
// parsed_request.rs), word for word: its test framework and clients wait on these lines, and
// pair "received" with the outcome to time requests. Also its deprecation messages, which come
// with a `Deprecation` header on the answer.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/http/http_message.h"

namespace ember::api {

// Rust's Debug form of a string: in double quotes, with \", \\, \n, \r, \t, \0 and \u{..}
// escapes for the other control characters.
std::string debug_quoted(std::string_view text);

// The part after "The API server received a ", without the final dot: `Put request on
// "/drives/rootfs" with body "{...}"`. No body for /mmds (its data may be secret), and the CPU
// template only when `debug_enabled`.
std::string describe_request(const HttpRequest& request, bool debug_enabled);

// "The request was executed successfully. Status code: 204 No Content." or "Received Error.
// Status code: 400 Bad Request. Message: <fault_message>".
std::string describe_outcome(const HttpResponse& response);

// Firecracker's warning for a request that uses a deprecated field, if it does.
std::optional<std::string> deprecation_message(const HttpRequest& request);

// Logs the request (Info) before it is served.
void log_request(const HttpRequest& request);
// Logs the outcome (Info, or Error for a fault) and the deprecation warning, if any.
void log_outcome(const HttpResponse& response, const std::optional<std::string>& deprecation);

}  // namespace ember::api
