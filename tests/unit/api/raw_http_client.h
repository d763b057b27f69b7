// A raw HTTP/1.1 client for tests of the API server: sends any bytes at all on a Unix socket and
// reads whatever comes back.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace ember::api::testing {

// Connects to `socket`, writes `bytes` while reading whatever comes back (so that a server that
// stops reading until its answers are taken never deadlocks the exchange), until the server
// closes the connection or `timeout` passes. Returns everything read.
std::string send_and_receive(const std::string& socket, const std::string& bytes,
                             std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The status codes of the HTTP/1.1 responses in `stream`, in order; stops at the first thing that
// is not a complete response (Content-Length framed, as the server frames every answer).
std::vector<int> response_statuses(const std::string& stream);

// One request with a Content-Length; `close` adds "Connection: close".
std::string http_request(const std::string& method, const std::string& path,
                         const std::string& body, bool close = true);

}  // namespace ember::api::testing
