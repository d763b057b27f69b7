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
    // Each answers at most one request: a client that pipelines many waits its turn behind
    // the others instead of keeping the API thread to itself.
    State on_readable(Router& router, Clock::time_point now);
    State on_writable(Router& router, Clock::time_point now);
    // For a connection that wants_turn(): answers its next buffered request.
    State on_turn(Router& router, Clock::time_point now) { return on_writable(router, now); }
    // True when it holds received bytes it could answer now; epoll will not say so.
    bool wants_turn() const { return !in_.empty() && out_.empty() && !close_after_write_; }

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
    // Since when it has held its slot without the server catching up with it (the first byte
    // it sent after its last answer went out whole) or, with nothing under way, since that
    // answer. The server evicts the connection with the earliest one when it needs a slot: a
    // client that keeps pipelining ages as one that keeps silent does, a newcomer is youngest.
    Clock::time_point stalled_since() const { return busy_ ? busy_since_ : idle_since_; }
    // Bytes this connection buffers in user space: at most one partial request (bounded by
    // RequestLimits), one read chunk and one answer.
    size_t buffered_bytes() const { return in_.size() + out_.size() + parser_.buffered_bytes(); }

private:
    // Sends what is pending and, if all of it went, answers one more complete request, so a
    // client that does not read cannot make answers pile up. False when the peer is gone.
    bool serve(Router& router, Clock::time_point now);
    // Parses from in_ and queues the answer to one complete request; false if none is complete.
    bool answer_next(Router& router, Clock::time_point now);
    // After answering a body over the limit from its headers: counts past what has arrived of
    // the body, and gives up on the rest if the client sent no more (see the .cc).
    void skip_rejected_body();
    // True when the socket holds bytes not yet read (peeked, not taken).
    bool readable() const;
    // Writes what the socket takes; false when the peer is gone.
    bool flush(Clock::time_point now);
    State settle() const;

    UniqueFd fd_;
    RequestParser parser_;
    std::string in_;   // Received, not yet parsed (only while an answer waits to be sent).
    std::string out_;  // The answer not yet sent.
    bool close_after_write_ = false;
    bool peer_closed_ = false;
    bool in_request_ = false;          // Bytes of an unanswered request have arrived.
    Clock::time_point request_start_;  // Valid while in_request_.
    Clock::time_point answer_ready_;   // Valid while out_ is not empty.
    Clock::time_point idle_since_;     // Accept, or the last answer fully sent.
    bool busy_ = false;                // in_request_ or an answer unsent, since busy_since_.
    Clock::time_point busy_since_;
};

}  // namespace ember::api
