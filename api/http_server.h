// HttpServer: Firecracker's API transport. Listens on a Unix socket and serves HTTP/1.1 with
// keep-alive on its own thread (`fc_api`), one epoll loop over all clients, so a slow or silent
// client never holds up another. Owns the socket, the thread and every connection; the
// destructor stops the thread and removes the socket file.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

#include "api/http/connection.h"
#include "api/http/request_parser.h"
#include "api/router.h"
#include "vmm/base/epoll.h"
#include "vmm/base/event_fd.h"
#include "vmm/base/result.h"
#include "vmm/base/seccomp_filter.h"
#include "vmm/base/unique_fd.h"

namespace ember::api {

struct HttpServerOptions {
    std::string socket_path = "/run/firecracker.socket";
    RequestLimits limits;
    // A client that stops halfway through a request is dropped after this long without progress.
    std::chrono::milliseconds request_timeout{10'000};
    // A keep-alive connection with no request under way is dropped after this long.
    std::chrono::milliseconds idle_timeout{300'000};
    size_t max_connections = 256;
    // Installed by the API thread on itself before it accepts anything; null or empty: none.
    const BpfProgram* seccomp = nullptr;
};

class HttpServer {
public:
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
    // Thread: fc_api.
    void run();
    void accept_clients(Connection::Clock::time_point now);
    void close_connection(uint64_t token);
    void drop_stalled(Connection::Clock::time_point now);
    void update_interest(uint64_t token, Connection& connection);

    HttpServerOptions options_;
    Router& router_;
    UniqueFd listener_;
    Epoll epoll_;
    EventFd stop_;
    // Owned by the API thread once it runs.
    std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
    std::unordered_map<uint64_t, uint32_t> registered_events_;
    uint64_t next_token_ = kFirstConnectionToken;
    std::jthread thread_;  // Last: joined before the members it uses go away.

    static constexpr uint64_t kListenerToken = 0;
    static constexpr uint64_t kStopToken = 1;
    static constexpr uint64_t kFirstConnectionToken = 2;
};

}  // namespace ember::api
