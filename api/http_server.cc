#include "api/http_server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

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
    if (::listen(fd.get(), 128) != 0) {
        int err = errno;
        ::unlink(path.c_str());
        return Error::from_errno(err, "listen on API socket", path);
    }
    return fd;
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options, Router& router) {
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
    std::unique_ptr<HttpServer> server(new HttpServer(std::move(options), router,
                                                      std::move(listener), std::move(*epoll),
                                                      std::move(*stop)));
    // The thread confines itself first; start() returns only once that has worked, so no
    // request is ever served by an unconfined thread.
    std::atomic<int> confined{0};  // 1: filter in place, -errno: it failed.
    server->thread_ = std::jthread([s = server.get(), &confined] {
        log::set_thread_name("fc_api");
        Result<void> installed =
            s->options_.seccomp ? install_bpf_program(*s->options_.seccomp, "api") : ok();
        confined.store(installed ? 1 : -installed.error().code().value());
        confined.notify_one();
        if (installed) s->run();
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

void HttpServer::run() {
    std::array<epoll_event, 64> events;
    const auto sweep_period = std::clamp(
        std::min(options_.request_timeout, options_.idle_timeout) / 4,
        std::chrono::milliseconds(1), std::chrono::milliseconds(1000));
    auto next_sweep = Connection::Clock::now() + sweep_period;
    for (;;) {
        auto now = Connection::Clock::now();
        int timeout_ms = static_cast<int>(
            std::chrono::ceil<std::chrono::milliseconds>(std::max(next_sweep - now,
                                                                  Connection::Clock::duration(0)))
                .count());
        auto ready = epoll_.wait(events, connections_.empty() ? -1 : timeout_ms);
        if (!ready) {
            EMBER_ERROR("API thread: {}", ready.error().message());
            return;
        }
        now = Connection::Clock::now();
        for (const epoll_event& ev : *ready) {
            if (ev.data.u64 == kStopToken) return;
            if (ev.data.u64 == kListenerToken) {
                accept_clients(now);
                continue;
            }
            auto it = connections_.find(ev.data.u64);
            if (it == connections_.end()) continue;
            Connection& c = *it->second;
            Connection::State state = Connection::State::kOpen;
            if (ev.events & (EPOLLERR | EPOLLHUP)) {
                state = Connection::State::kClosed;
            } else {
                if (ev.events & EPOLLIN) state = c.on_readable(router_, now);
                if (state == Connection::State::kOpen && (ev.events & EPOLLOUT)) {
                    state = c.on_writable(router_, now);
                }
            }
            if (state == Connection::State::kClosed) {
                close_connection(ev.data.u64);
            } else {
                update_interest(ev.data.u64, c);
            }
        }
        if (now >= next_sweep) {
            drop_stalled(now);
            next_sweep = now + sweep_period;
        }
    }
}

void HttpServer::accept_clients(Connection::Clock::time_point now) {
    for (;;) {
        UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                EMBER_WARN("API socket accept failed: {}", std::strerror(errno));
            }
            return;
        }
        if (connections_.size() >= options_.max_connections) {
            std::string busy = serialize(HttpResponse::fault("Too many open connections.", 503),
                                         false);
            (void)!::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            continue;
        }
        uint64_t token = next_token_++;
        auto connection = std::make_unique<Connection>(std::move(fd), options_.limits, now);
        uint32_t events = connection->interest();
        if (auto r = epoll_.add(connection->fd(), events, token); !r) {
            EMBER_WARN("API connection not registered: {}", r.error().message());
            continue;
        }
        registered_events_[token] = events;
        connections_.emplace(token, std::move(connection));
    }
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
}

void HttpServer::drop_stalled(Connection::Clock::time_point now) {
    std::vector<uint64_t> stalled;
    for (const auto& [token, c] : connections_) {
        auto limit = c->mid_request() ? options_.request_timeout : options_.idle_timeout;
        if (now - c->last_activity() >= limit) stalled.push_back(token);
    }
    for (uint64_t token : stalled) close_connection(token);
}

}  // namespace ember::api
