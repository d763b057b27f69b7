#include "api/http_server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "vmm/base/log.h"

namespace ember::api {
namespace {

Result<UniqueFd> listen_unix(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
        return Error::invalid("API socket path", "must be 1 to 107 bytes long: " + path);
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return Error::from_errno("socket");
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        return Error::from_errno("bind API socket", path);
    }
    if (::listen(fd.get(), HttpServer::kListenBacklog) != 0) {
        int err = errno;
        ::unlink(path.c_str());
        return Error::from_errno(err, "listen on API socket", path);
    }
    return fd;
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options, Router& router) {
    options.max_connections = std::max<size_t>(options.max_connections, 1);
    UniqueFd listener = EMBER_TRY(listen_unix(options.socket_path));
    auto fail = [&](Error e) {
        ::unlink(options.socket_path.c_str());
        return e;
    };
    auto epoll = Epoll::create();
    if (!epoll) return fail(epoll.error());
    auto stop = EventFd::create();
    if (!stop) return fail(stop.error());
    if (auto r = epoll->add(listener.get(), EPOLLIN, kListenerToken); !r) return fail(r.error());
    if (auto r = epoll->add(stop->fd(), EPOLLIN, kStopToken); !r) return fail(r.error());
    std::unique_ptr<HttpServer> server(new HttpServer(
        std::move(options), router, std::move(listener), std::move(*epoll), std::move(*stop)));
    // The thread confines itself first; start() returns only once that has worked, so no
    // request is ever served by an unconfined thread.
    std::atomic<int> confined{0};  // 1: filter in place, -errno: it failed.
    server->thread_ = std::jthread([s = server.get(), &confined] {
        log::set_thread_name("fc_api");
        Result<void> installed =
            s->options_.seccomp ? install_bpf_program(*s->options_.seccomp, "api") : ok();
        confined.store(installed ? 1 : -installed.error().code().value());
        confined.notify_one();
        if (installed) {
            EMBER_INFO("API server started.");  // Firecracker's words; launchers wait on them.
            s->run();
        }
    });
    confined.wait(0);
    if (int state = confined.load(); state < 0) {
        server->thread_.join();
        return fail(Error::from_errno(-state, "install the API thread's seccomp filter"));
    }
    return server;
}

HttpServer::HttpServer(HttpServerOptions options, Router& router, UniqueFd listener, Epoll epoll,
                       EventFd stop)
    : options_(std::move(options)),
      router_(router),
      listener_(std::move(listener)),
      epoll_(std::move(epoll)),
      stop_(std::move(stop)) {}

HttpServer::~HttpServer() {
    if (thread_.joinable()) {
        if (!stop_.write()) EMBER_ERROR("could not wake the API thread to stop it");
        thread_.join();
    }
    ::unlink(options_.socket_path.c_str());
}

int HttpServer::wait_timeout_ms(Clock::time_point now) const {
    auto wake = next_deadline_;
    if (accept_paused_) wake = std::min(wake, accept_resume_at_);
    if (wake == Clock::time_point::max()) return -1;
    if (wake <= now) return 0;
    // Rounded up, so the loop never wakes just before a deadline and spins until it passes.
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
    return static_cast<int>(std::min<decltype(ms)>(ms, 3'600'000));
}

void HttpServer::run() {
    std::array<epoll_event, 256> events;
    for (;;) {
        auto ready = epoll_.wait(events, runnable_.empty() ? wait_timeout_ms(now()) : 0);
        if (!ready) {
            EMBER_ERROR("API thread: {}", ready.error().message());
            return;
        }
        const auto t = now();
        // Deadlines first: a request that arrives after its deadline is not served.
        drop_expired(t);
        if (accept_paused_ && t >= accept_resume_at_) resume_accepting();
        for (const epoll_event& ev : *ready) {
            // epoll_event is packed on x86_64: copied, so that no reference binds misaligned.
            const uint64_t token = ev.data.u64;
            if (token == kStopToken) return;
            if (token == kListenerToken) {
                if (!accept_paused_) accept_clients(t);
                continue;
            }
            auto it = connections_.find(token);
            if (it == connections_.end()) continue;  // Closed earlier in this round.
            Connection& c = *it->second;
            Connection::State state = Connection::State::kOpen;
            if (ev.events & (EPOLLERR | EPOLLHUP)) {
                state = Connection::State::kClosed;
            } else {
                if (ev.events & EPOLLIN) state = c.on_readable(router_, t);
                if (state == Connection::State::kOpen && (ev.events & EPOLLOUT)) {
                    state = c.on_writable(router_, t);
                }
            }
            settle(token, c, state);
        }
        // Requests already received (pipelined), one per connection in turn and only a few per
        // round, so that a request that has just arrived waits for a few answers, not hundreds.
        for (size_t turn = 0; turn < kTurnsPerRound && !runnable_.empty(); ++turn) {
            uint64_t token = runnable_.front();
            runnable_.pop_front();
            queued_.erase(token);
            auto it = connections_.find(token);
            if (it == connections_.end() || !it->second->wants_turn()) continue;
            settle(token, *it->second, it->second->on_turn(router_, t));
        }
    }
}

void HttpServer::settle(uint64_t token, Connection& c, Connection::State state) {
    if (state == Connection::State::kClosed) {
        close_connection(token);
        return;
    }
    next_deadline_ = std::min(next_deadline_, c.deadline(options_.timeouts));
    update_interest(token, c);
    if (c.wants_turn() && queued_.insert(token).second) runnable_.push_back(token);
}

void HttpServer::accept_clients(Clock::time_point now) {
    bool evicted_for_fd = false;
    for (size_t i = 0; i < kMaxAcceptsPerWakeup; ++i) {
        UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (fd) {
            add_connection(std::move(fd));
            continue;
        }
        int err = errno;
        if (err == EINTR || err == ECONNABORTED) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) return;
        // Out of descriptors (or kernel memory): one of ours makes room once per wakeup, so a
        // newcomer is served even at RLIMIT_NOFILE; beyond that the listener, which stays
        // readable, is left out of the epoll set for a while rather than spinning on it.
        if ((err == EMFILE || err == ENFILE) && !evicted_for_fd && evict_one()) {
            evicted_for_fd = true;
            continue;
        }
        EMBER_LOG_LIMITED(accept_log_, log::Level::kWarning,
                          "API socket accept failed: {}; pausing accept for {} ms",
                          std::strerror(err), kAcceptPause.count());
        pause_accepting(now);
        return;
    }
}

void HttpServer::add_connection(UniqueFd fd) {
    // Read afresh: this round may have started well before this client connected.
    const auto now = this->now();
    if (connections_.size() >= options_.max_connections && evict_one()) {
        EMBER_LOG_LIMITED(evict_log_, log::Level::kInfo,
                          "API connection limit ({}) reached: closed the connection stalled "
                          "longest for a new one",
                          options_.max_connections);
    }
    uint64_t token = next_token_++;
    auto connection = std::make_unique<Connection>(std::move(fd), options_.limits, now);
    uint32_t events = connection->interest();
    if (auto r = epoll_.add(connection->fd(), events, token); !r) {
        EMBER_WARN("API connection not registered: {}", r.error().message());
        return;
    }
    registered_events_[token] = events;
    Connection& c = *connections_.emplace(token, std::move(connection)).first->second;
    // A client usually sends its request right after connect(): under load it has long arrived
    // by the time the connection is accepted, and is answered now rather than a round later.
    settle(token, c, c.on_readable(router_, now));
}

bool HttpServer::evict_one() {
    auto victim = connections_.end();
    for (auto it = connections_.begin(); it != connections_.end(); ++it) {
        if (victim == connections_.end() ||
            it->second->stalled_since() < victim->second->stalled_since()) {
            victim = it;
        }
    }
    if (victim == connections_.end()) return false;
    close_connection(victim->first);
    return true;
}

void HttpServer::pause_accepting(Clock::time_point now) {
    if (auto r = epoll_.modify(listener_.get(), 0, kListenerToken); !r) {
        EMBER_ERROR("API socket: {}", r.error().message());
        std::abort();  // Our own listener in our own epoll set: cannot fail.
    }
    accept_paused_ = true;
    accept_resume_at_ = now + kAcceptPause;
}

void HttpServer::resume_accepting() {
    if (auto r = epoll_.modify(listener_.get(), EPOLLIN, kListenerToken); !r) {
        EMBER_ERROR("API socket: {}", r.error().message());
        std::abort();
    }
    accept_paused_ = false;
}

void HttpServer::update_interest(uint64_t token, Connection& connection) {
    uint32_t events = connection.interest();
    uint32_t& registered = registered_events_[token];
    if (events == registered) return;
    if (auto r = epoll_.modify(connection.fd(), events, token); !r) {
        EMBER_WARN("API connection dropped: {}", r.error().message());
        close_connection(token);
        return;
    }
    registered = events;
}

void HttpServer::close_connection(uint64_t token) {
    auto it = connections_.find(token);
    if (it == connections_.end()) return;
    (void)epoll_.remove(it->second->fd());
    connections_.erase(it);
    registered_events_.erase(token);
    queued_.erase(token);  // Its place in runnable_ is skipped.
}

void HttpServer::drop_expired(Clock::time_point now) {
    if (now < next_deadline_) return;
    std::vector<uint64_t> expired;
    next_deadline_ = Clock::time_point::max();
    for (const auto& [token, c] : connections_) {
        auto deadline = c->deadline(options_.timeouts);
        if (deadline <= now) {
            expired.push_back(token);
        } else {
            next_deadline_ = std::min(next_deadline_, deadline);
        }
    }
    for (uint64_t token : expired) {
        connections_.at(token)->notify_timeout(options_.timeouts);
        close_connection(token);
    }
}

}  // namespace ember::api
