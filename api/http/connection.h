// Connection: one accepted API client. Owns the socket, the parser and bounded input/output
// buffers; answers requests one at a time through the Router, and keeps the times HttpServer
// needs to drop or evict it. Driven by HttpServer on the API thread; never blocks (the socket is
// non-blocking).
#pragma once

#include <chrono>
#include <string>

#include "api/http/request_parser.h"
#include "api/router.h"
#include "vmm/base/unique_fd.h"

namespace ember::api {

// How long a connection may hold its slot without progress.
struct ConnectionTimeouts {
    // From the first byte of a request to its last.
    std::chrono::milliseconds request{5'000};
    // From an answer being ready to the client having taken all of it.
    std::chrono::milliseconds response{5'000};
    // With nothing under way (keep-alive), from the last answer or from accept.
    std::chrono::milliseconds idle{300'000};
};

class Connection {
public:
    using Clock = std::chrono::steady_clock;
    // One read per readiness event; also the most unparsed input a connection holds.
    static constexpr size_t kReadChunkBytes = 4096;

    Connection(UniqueFd fd, RequestLimits limits, Clock::time_point now)
        : fd_(std::move(fd)), parser_(limits), idle_since_(now) {}

    enum class State { kOpen, kClosed };
    State on_readable(Router& router, Clock::time_point now);
    State on_writable(Router& router, Clock::time_point now);

    // The epoll events this connection wants now.
    uint32_t interest() const;
    int fd() const { return fd_.get(); }

    // When this connection is dropped unless it makes progress first: its request's first byte
    // plus the request timeout, its waiting answer plus the response timeout, or, with nothing
    // under way, its last answer plus the idle timeout. A deadline never moves later on a byte
    // that does not finish the request or the answer, so dripping bytes buys nothing.
    Clock::time_point deadline(const ConnectionTimeouts& timeouts) const;
    // Called as the server drops it at its deadline: if it was still sending a request, tells it
    // so with a 408 (one non-blocking send, best effort) so that a slow but honest client learns
    // why.
    void notify_timeout(const ConnectionTimeouts& timeouts);
    // Since when it has held its slot without finishing anything; the server evicts the
    // connection with the earliest one when it needs a slot.
    Clock::time_point stalled_since() const;
    // Bytes this connection buffers in user space: at most one partial request (bounded by
    // RequestLimits), one read chunk and one answer.
    size_t buffered_bytes() const { return in_.size() + out_.size() + parser_.buffered_bytes(); }

private:
    // Answers complete requests one at a time, each only once the previous answer is sent, so a
    // client that does not read cannot make answers pile up. False when the peer is gone.
    bool serve(Router& router, Clock::time_point now);
    // Parses from in_ and queues the answer to one complete request; false if none is complete.
    bool answer_next(Router& router, Clock::time_point now);
    // Writes what the socket takes; false when the peer is gone.
    bool flush(Clock::time_point now);
    State settle() const;

    UniqueFd fd_;
    RequestParser parser_;
    std::string in_;   // Received, not yet parsed (only while an answer waits to be sent).
    std::string out_;  // The answer not yet sent.
    bool close_after_write_ = false;
    bool peer_closed_ = false;
    bool in_request_ = false;           // Bytes of an unanswered request have arrived.
    Clock::time_point request_start_;   // Valid while in_request_.
    Clock::time_point answer_ready_;    // Valid while out_ is not empty.
    Clock::time_point idle_since_;      // Accept, or the last answer fully sent.
};

}  // namespace ember::api
