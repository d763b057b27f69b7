#include "api/http/connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include <fmt/core.h>

namespace ember::api {

uint32_t Connection::interest() const {
    uint32_t events = 0;
    if (!close_after_write_ && !peer_closed_ && in_.empty() && out_.empty()) events |= EPOLLIN;
    if (!out_.empty()) events |= EPOLLOUT;
    return events;
}

Connection::Clock::time_point Connection::deadline(const ConnectionTimeouts& timeouts) const {
    if (!in_request_ && out_.empty()) return idle_since_ + timeouts.idle;
    auto at = Clock::time_point::max();
    if (in_request_) at = std::min(at, request_start_ + timeouts.request);
    if (!out_.empty()) at = std::min(at, answer_ready_ + timeouts.response);
    return at;
}

void Connection::notify_timeout(const ConnectionTimeouts& timeouts) {
    if (!in_request_ || !out_.empty()) return;
    std::string notice = serialize(
        HttpResponse::fault(fmt::format("Request not received whole within {} ms of its first "
                                        "byte.",
                                        timeouts.request.count()),
                            408),
        false);
    (void)!::send(fd_.get(), notice.data(), notice.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool Connection::answer_next(Router& router, Clock::time_point now) {
    size_t consumed = 0;
    RequestParser::Status status = parser_.feed(in_, consumed);
    in_.erase(0, consumed);
    if (status == RequestParser::Status::kNeedMore) return false;
    answer_ready_ = now;
    in_request_ = false;
    if (status == RequestParser::Status::kError) {
        out_ = serialize(parser_.error(), false);
        close_after_write_ = true;
        in_.clear();
        return true;
    }
    bool keep_alive = parser_.keep_alive();
    std::optional<HttpResponse> rejection = parser_.rejection();
    HttpRequest request = parser_.take_request();
    if (rejection) skip_rejected_body();
    out_ = serialize(rejection ? *rejection : router.handle(request), keep_alive);
    if (!keep_alive) close_after_write_ = true;
    return true;
}

bool Connection::serve(Router& router, Clock::time_point now) {
    if (!flush(now)) return false;
    if (out_.empty() && !close_after_write_ && answer_next(router, now) && !flush(now)) {
        return false;
    }
    // Whatever is left in the parser or in in_ begins the next request; its clock starts now.
    if (!in_request_ && !close_after_write_ && (parser_.mid_request() || !in_.empty())) {
        in_request_ = true;
        request_start_ = now;
    }
    bool busy = in_request_ || !out_.empty();
    if (busy && !busy_) busy_since_ = now;
    busy_ = busy;
    return true;
}

void Connection::skip_rejected_body() {
    // Counts past what has come of the body, and at most one byte more (the end of the
    // headers may still be there): a request after it is left for its own turn.
    size_t consumed = 0;
    uint64_t upto = std::min<uint64_t>(in_.size(), parser_.body_left() + 1);
    (void)parser_.feed(std::string_view(in_).substr(0, upto), consumed);
    in_.erase(0, consumed);
    // Before the answer goes: a client that sent all of the body has the rest on its way (or
    // here), while one that sent less waits for the answer before its next request. So if
    // nothing more is here, what comes next is that request, not body (micro_http, too, drops
    // what it has read of a request it fails).
    if (parser_.discarding() && in_.empty() && !peer_closed_ && !readable()) {
        parser_.abandon_body();
    }
}

bool Connection::readable() const {
    char byte;
    ssize_t n = ::recv(fd_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && errno == EINTR);
}

bool Connection::flush(Clock::time_point now) {
    if (out_.empty()) return true;
    while (!out_.empty()) {
        ssize_t n = ::send(fd_.get(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            out_.erase(0, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        return false;
    }
    idle_since_ = now;
    return true;
}

Connection::State Connection::settle() const {
    if (out_.empty() && (close_after_write_ || peer_closed_)) return State::kClosed;
    return State::kOpen;
}

Connection::State Connection::on_readable(Router& router, Clock::time_point now) {
    // One read per readiness event keeps the clients fair to each other.
    char buffer[kReadChunkBytes];
    ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return State::kOpen;
        return State::kClosed;
    }
    if (n == 0) {
        // The client is done sending: answer what it sent completely, then close.
        peer_closed_ = true;
    } else {
        in_.append(buffer, static_cast<size_t>(n));
    }
    if (!serve(router, now)) return State::kClosed;
    return settle();
}

Connection::State Connection::on_writable(Router& router, Clock::time_point now) {
    if (!serve(router, now)) return State::kClosed;
    return settle();
}

}  // namespace ember::api
