#include "api/http/connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

namespace ember::api {

uint32_t Connection::interest() const {
    uint32_t events = 0;
    if (!close_after_write_ && !peer_closed_ && in_.empty() &&
        out_.size() < kMaxPendingOutputBytes) {
        events |= EPOLLIN;
    }
    if (!out_.empty()) events |= EPOLLOUT;
    return events;
}

void Connection::process(Router& router) {
    while (!close_after_write_ && out_.size() < kMaxPendingOutputBytes) {
        size_t consumed = 0;
        RequestParser::Status status = parser_.feed(in_, consumed);
        in_.erase(0, consumed);
        if (status == RequestParser::Status::kNeedMore) break;
        if (status == RequestParser::Status::kError) {
            out_ += serialize(parser_.error(), false);
            close_after_write_ = true;
            in_.clear();
            break;
        }
        bool keep_alive = parser_.keep_alive();
        HttpRequest request = parser_.take_request();
        out_ += serialize(router.handle(request), keep_alive);
        if (!keep_alive) close_after_write_ = true;
    }
}

bool Connection::flush(Clock::time_point now) {
    while (!out_.empty()) {
        ssize_t n = ::send(fd_.get(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            out_.erase(0, static_cast<size_t>(n));
            last_activity_ = now;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        return false;
    }
    return true;
}

Connection::State Connection::settle() {
    if (out_.empty() && (close_after_write_ || peer_closed_)) return State::kClosed;
    return State::kOpen;
}

Connection::State Connection::on_readable(Router& router, Clock::time_point now) {
    // One read per readiness event keeps the clients fair to each other.
    char buffer[4096];
    ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return State::kOpen;
        return State::kClosed;
    }
    if (n == 0) {
        // The client is done sending: answer what it sent completely, then close.
        peer_closed_ = true;
    } else {
        last_activity_ = now;
        in_.append(buffer, static_cast<size_t>(n));
    }
    process(router);
    if (!flush(now)) return State::kClosed;
    return settle();
}

Connection::State Connection::on_writable(Router& router, Clock::time_point now) {
    if (!flush(now)) return State::kClosed;
    if (!in_.empty()) {
        process(router);
        if (!flush(now)) return State::kClosed;
    }
    return settle();
}

}  // namespace ember::api
