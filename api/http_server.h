// HttpServer: Firecracker's API transport. Listens on a Unix socket and serves HTTP/1.1 with
// keep-alive on its own thread (`fc_api`), one epoll loop over all clients, so a slow or silent
// client never holds up another. Owns the socket, the thread and every connection; the
// destructor stops the thread and removes the socket file.
//
// No client can hold a slot for long without progress (ConnectionTimeouts), and a newcomer is
// never turned away: when the table is full, or the process is out of file descriptors, the
// connection that has gone longest without finishing anything is closed to make room.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "api/http/connection.h"
#include "api/http/request_parser.h"
#include "api/router.h"
#include "vmm/base/epoll.h"
#include "vmm/base/event_fd.h"
#include "vmm/base/log.h"
#include "vmm/base/result.h"
#include "vmm/base/seccomp_filter.h"
#include "vmm/base/unique_fd.h"

namespace ember::api {

// Firecracker's default API socket, used when --api-sock is not given.
inline constexpr std::string_view kDefaultSocketPath = "/run/firecracker.socket";

struct HttpServerOptions {
    std::string socket_path{kDefaultSocketPath};
    RequestLimits limits;
    ConnectionTimeouts timeouts;
    // Open connections at most (at least 1). A newcomer beyond it evicts the connection stalled
    // longest, so a well-behaved client is always served however many others hold slots.
    size_t max_connections = 256;
    // The API thread's clock; empty: steady_clock. Tests step their own instead of sleeping.
    std::function<Connection::Clock::time_point()> clock;
    // Installed by the API thread on itself before it accepts anything; null or empty: none.
    const BpfProgram* seccomp = nullptr;
};

class HttpServer {
public:
    using Clock = Connection::Clock;
    // Connections the kernel queues before connect() blocks (or fails with EAGAIN when
    // non-blocking). A longer queue would only put more clients ahead of a newcomer.
    static constexpr int kListenBacklog = 128;
    // Connections accepted per wakeup; below max_connections so a newcomer's request is read
    // before later newcomers could evict it.
    static constexpr size_t kMaxAcceptsPerWakeup = 32;
    // Pipelined requests answered per round of the loop, between looks at new events.
    static constexpr size_t kTurnsPerRound = 8;
    // Out of file descriptors with nothing to evict: accepting pauses this long instead of
    // spinning on a listener that stays readable.
    static constexpr std::chrono::milliseconds kAcceptPause{100};

    // Binds and listens (so the socket accepts when this returns), then starts the API thread.
    // Fails if the path exists: as Firecracker, Ember does not take over another's socket.
    static Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options, Router& router);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    const std::string& socket_path() const { return options_.socket_path; }

private:
    HttpServer(HttpServerOptions options, Router& router, UniqueFd listener, Epoll epoll,
               EventFd stop);
    // Thread: fc_api, for all below.
    void run();
    Clock::time_point now() const { return options_.clock ? options_.clock() : Clock::now(); }
    int wait_timeout_ms(Clock::time_point now) const;
    void accept_clients(Clock::time_point now);
    void add_connection(UniqueFd fd);
    // Closes the connection stalled longest; false if there is none.
    bool evict_one();
    void pause_accepting(Clock::time_point now);
    void resume_accepting();
    void close_connection(uint64_t token);
    void drop_expired(Clock::time_point now);
    // After an event or a turn: closes, or notes its deadline, re-arms epoll and queues its
    // next turn if it holds a received request.
    void settle(uint64_t token, Connection& connection, Connection::State state);
    void update_interest(uint64_t token, Connection& connection);

    HttpServerOptions options_;
    Router& router_;
    UniqueFd listener_;
    Epoll epoll_;
    EventFd stop_;
    // Owned by the API thread once it runs.
    std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
    std::unordered_map<uint64_t, uint32_t> registered_events_;
    // Connections holding a received request to answer, in turn; queued_ holds the same.
    std::deque<uint64_t> runnable_;
    std::unordered_set<uint64_t> queued_;
    uint64_t next_token_ = kFirstConnectionToken;
    // No connection expires before this; drop_expired() scans only once it has passed.
    Clock::time_point next_deadline_ = Clock::time_point::max();
    bool accept_paused_ = false;
    Clock::time_point accept_resume_at_;
    log::LineLimiter accept_log_;
    log::LineLimiter evict_log_;
    std::jthread thread_;  // Last: joined before the members it uses go away.

    static constexpr uint64_t kListenerToken = 0;
    static constexpr uint64_t kStopToken = 1;
    static constexpr uint64_t kFirstConnectionToken = 2;
};

}  // namespace ember::api
