// RequestParser: turns the bytes of one connection into HttpRequests, one at a time, with
// libhttp-parser. Enforces the header and body limits while the bytes arrive, so a client can
// never make it buffer more than those limits. Owned by one connection on the API thread.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/http/http_message.h"

namespace ember::api {

// What one request may make a connection buffer. A body over max_body_bytes is never kept: as
// micro_http, the request gets a 400 and the connection goes on with the next one.
struct RequestLimits {
    // Firecracker's HTTP_MAX_PAYLOAD_SIZE; `--http-api-max-payload-size` sets it, as there.
    static constexpr size_t kDefaultMaxBodyBytes = 51200;

    size_t max_header_bytes = 8192;  // Request line plus headers.
    size_t max_body_bytes = kDefaultMaxBodyBytes;
};

// micro_http's words for a body over the limit (RequestError::SizeLimitExceeded).
std::string payload_too_large(uint64_t size, size_t limit);
// micro_http's whole answer to it: 400, `{ "error": "<words>\nAll previous unanswered requests
// will be dropped." }`.
HttpResponse payload_rejection(uint64_t size, size_t limit);

class RequestParser {
public:
    enum class Status { kNeedMore, kRequestReady, kError };

    explicit RequestParser(RequestLimits limits);
    RequestParser(const RequestParser&) = delete;
    RequestParser& operator=(const RequestParser&) = delete;

    // Parses from `data`, stopping after one complete request. Sets `consumed` to the bytes used;
    // the caller feeds the rest again after taking the request.
    Status feed(std::string_view data, size_t& consumed);

    // Valid after kRequestReady; resets the parser for the next request on the connection.
    HttpRequest take_request();
    // Valid after kRequestReady, before take_request(): the answer to give instead of routing
    // the request. A body over the limit is answered as soon as the headers are in; its bytes
    // are then counted past (discarding()) as they come.
    const std::optional<HttpResponse>& rejection() const { return rejection_; }
    bool keep_alive() const { return keep_alive_; }
    // Valid after kError: the answer to send before closing the connection.
    const HttpResponse& error() const { return error_; }
    // True while the body of a rejected request is being counted past.
    bool discarding() const { return discarding_; }
    // While discarding(): the bytes of that body still to come.
    uint64_t body_left() const { return discarding_ ? parser_.content_length : 0; }
    // Gives up counting past a rejected body: the next byte begins a new request. For a client
    // that sent less than its Content-Length and waits for the answer (micro_http drops what it
    // has read of a failed request and reads the next one).
    void abandon_body();
    // True while part of a request has been read.
    bool mid_request() const { return started_; }
    // What the request under way holds: at most max_header_bytes plus max_body_bytes.
    size_t buffered_bytes() const {
        return url_.size() + header_field_.size() + request_.body.size();
    }

private:
    static int on_message_begin(http_parser* p);
    static int on_url(http_parser* p, const char* at, size_t length);
    static int on_header_field(http_parser* p, const char* at, size_t length);
    static int on_header_value(http_parser* p, const char* at, size_t length);
    static int on_headers_complete(http_parser* p);
    static int on_body(http_parser* p, const char* at, size_t length);
    static int on_message_complete(http_parser* p);

    int fail(int status, std::string_view message);
    bool count_header_bytes(size_t length);

    RequestLimits limits_;
    http_parser parser_;
    http_parser_settings settings_;
    HttpRequest request_;
    std::string url_;
    std::string header_field_;  // Only for the headers we check (Transfer-Encoding).
    bool transfer_encoding_ = false;
    bool last_was_value_ = false;
    size_t header_bytes_ = 0;
    bool started_ = false;
    bool headers_done_ = false;
    bool complete_ = false;
    bool keep_alive_ = true;
    HttpResponse error_;
    bool failed_ = false;
    bool discarding_ = false;  // Counting past a body over the limit.
    std::optional<HttpResponse> rejection_;
};

}  // namespace ember::api
