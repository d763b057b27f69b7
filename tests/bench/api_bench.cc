// api_bench: requests per second for GET / from one client over one keep-alive connection,
// against the real HttpServer and Router with a fake VMM. Prints; asserts nothing.
//   api_bench [requests]   (default 50000)
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "api/http_server.h"
#include "tests/bench/http_response.h"
#include "tests/fakes/fake_vmm_controller.h"

int main(int argc, char** argv) {
    const long requests = argc > 1 ? std::atol(argv[1]) : 50000;
    char dir[] = "/tmp/ember-api-bench-XXXXXX";
    if (!::mkdtemp(dir)) return 1;
    ember::testing::FakeVmmController fake;
    ember::api::Router router(fake);
    ember::api::HttpServerOptions options;
    options.socket_path = std::string(dir) + "/api.sock";
    auto server = ember::api::HttpServer::start(options, router);
    if (!server) {
        std::fprintf(stderr, "api_bench: %s\n", server.error().message().c_str());
        return 1;
    }
    ember::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, options.socket_path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return 1;

    const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
    std::string buffer;
    auto begin = std::chrono::steady_clock::now();
    for (long i = 0; i < requests; ++i) {
        if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
                static_cast<ssize_t>(request.size()) ||
            !ember::bench::read_response(fd.get(), buffer)) {
            std::fprintf(stderr, "api_bench: connection lost after %ld requests\n", i);
            return 1;
        }
    }
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - begin;
    std::printf(
        "api_bench: %ld x GET / over one keep-alive connection: %.3f s, %.0f requests/s, "
        "%.1f us/request\n",
        requests, elapsed.count(), static_cast<double>(requests) / elapsed.count(),
        elapsed.count() * 1e6 / static_cast<double>(requests));
    fd.reset();
    server->reset();
    ::rmdir(dir);
    return 0;
}
