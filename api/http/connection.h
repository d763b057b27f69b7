// Connection: one accepted API client. Owns the socket, the parser and bounded input/output
// buffers; answers requests one at a time through the Router. Driven by HttpServer on the API
// thread; never blocks (the socket is non-blocking).
#pragma once

#include <chrono>
#include <string>

#include "api/http/request_parser.h"
#include "api/router.h"
#include "vmm/base/unique_fd.h"

namespace ember::api {

class Connection {
public:
    using Clock = std::chrono::steady_clock;
    // Answers beyond this many unsent bytes stop reading until the client catches up.
    static constexpr size_t kMaxPendingOutputBytes = 256 * 1024;

    Connection(UniqueFd fd, RequestLimits limits, Clock::time_point now)
        : fd_(std::move(fd)), parser_(limits), last_activity_(now) {}

    enum class State { kOpen, kClosed };
    State on_readable(Router& router, Clock::time_point now);
    State on_writable(Router& router, Clock::time_point now);

    // The epoll events this connection wants now.
    uint32_t interest() const;
    int fd() const { return fd_.get(); }
    Clock::time_point last_activity() const { return last_activity_; }
    // True while a request has been partly received or an answer not yet taken.
    bool mid_request() const { return parser_.mid_request() || !in_.empty() || !out_.empty(); }

private:
    // Answers the complete requests in in_ while there is room for the answers.
    void process(Router& router);
    // Writes what the socket takes; false when the peer is gone.
    bool flush(Clock::time_point now);
    State settle();

    UniqueFd fd_;
    RequestParser parser_;
    std::string in_;   // Received, not yet parsed (only while the output is backed up).
    std::string out_;  // Answers not yet sent.
    bool close_after_write_ = false;
    bool peer_closed_ = false;
    Clock::time_point last_activity_;
};

}  // namespace ember::api
