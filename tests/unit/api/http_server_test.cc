#include "api/http_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "tests/fakes/fake_vmm_controller.h"

namespace ember::api {
namespace {

using namespace std::chrono_literals;

// A blocking test client with a receive deadline, over a real Unix socket.
class Client {
public:
    explicit Client(const std::string& path) {
        fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
        connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    }
    bool connected() const { return connected_; }
    int fd_for_test() const { return fd_.get(); }
    Client(Client&&) = default;
    Client& operator=(Client&&) = default;

    bool send(std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            data.remove_prefix(static_cast<size_t>(n));
        }
        return true;
    }

    // One response (status line, headers, Content-Length body), or "" on timeout or EOF.
    std::string receive(std::chrono::milliseconds timeout = 5s) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            size_t head_end = buffer_.find("\r\n\r\n");
            if (head_end != std::string::npos) {
                size_t length = 0;
                size_t cl = buffer_.find("Content-Length: ");
                if (cl != std::string::npos && cl < head_end) {
                    length = std::stoul(buffer_.substr(cl + 16));
                }
                size_t total = head_end + 4 + length;
                if (buffer_.size() >= total) {
                    std::string out = buffer_.substr(0, total);
                    buffer_.erase(0, total);
                    return out;
                }
            }
            if (!read_some(deadline)) return {};
        }
    }

    // True if the server closes the connection (EOF) before the deadline.
    bool closed_by_server(std::chrono::milliseconds timeout = 5s) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (read_some(deadline)) {
        }
        return eof_;
    }

private:
    bool read_some(std::chrono::steady_clock::time_point deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_.get(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char chunk[4096];
        ssize_t n = ::recv(fd_.get(), chunk, sizeof(chunk), 0);
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        buffer_.append(chunk, static_cast<size_t>(n));
        return true;
    }

    UniqueFd fd_;
    bool connected_ = false;
    bool eof_ = false;
    std::string buffer_;
};

std::string status_line(const std::string& response) {
    return response.substr(0, response.find("\r\n"));
}

std::string body_of(const std::string& response) {
    size_t end = response.find("\r\n\r\n");
    return end == std::string::npos ? std::string() : response.substr(end + 4);
}

constexpr const char* kGetRoot = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

std::string put_request(std::string_view path, std::string_view body) {
    return fmt::format("PUT {} HTTP/1.1\r\nContent-Type: application/json\r\n"
                       "Content-Length: {}\r\n\r\n{}",
                       path, body.size(), body);
}

class HttpServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        char dir[] = "/tmp/ember-api-test-XXXXXX";
        ASSERT_NE(::mkdtemp(dir), nullptr);
        dir_ = dir;
        options.socket_path = dir_ + "/api.sock";
        options.request_timeout = 300ms;
        options.idle_timeout = 2s;
    }
    void TearDown() override {
        server.reset();
        ::rmdir(dir_.c_str());
    }
    void start() {
        auto s = HttpServer::start(options, router);
        ASSERT_TRUE(s) << s.error().message();
        server = std::move(*s);
    }
    void expect_still_serving() {
        Client c(options.socket_path);
        ASSERT_TRUE(c.connected());
        ASSERT_TRUE(c.send(kGetRoot));
        EXPECT_EQ(status_line(c.receive()), "HTTP/1.1 200 OK");
    }

    std::string dir_;
    HttpServerOptions options;
    testing::FakeVmmController fake;
    Router router{fake};
    std::unique_ptr<HttpServer> server;
};

TEST_F(HttpServerTest, AnswersGetRootWithFirecrackersHeaders) {
    start();
    Client c(options.socket_path);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(kGetRoot));
    std::string r = c.receive();
    EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
    EXPECT_NE(r.find("\r\nServer: Firecracker API\r\n"), std::string::npos);
    EXPECT_NE(r.find("\r\nConnection: keep-alive\r\n"), std::string::npos);
    EXPECT_NE(r.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
    EXPECT_EQ(body_of(r), R"({"app_name":"Firecracker","id":"anonymous-instance",)"
                          R"("state":"Not started","vmm_version":"1.7.0"})");
}

TEST_F(HttpServerTest, ServesSeveralRequestsOnOneKeepAliveConnection) {
    start();
    Client c(options.socket_path);
    ASSERT_TRUE(c.send(put_request("/boot-source", R"({"kernel_image_path": "/k"})")));
    EXPECT_EQ(status_line(c.receive()), "HTTP/1.1 204 No Content");
    ASSERT_TRUE(c.send(put_request("/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 64})")));
    EXPECT_EQ(status_line(c.receive()), "HTTP/1.1 204 No Content");
    ASSERT_TRUE(c.send(put_request("/actions", R"({"action_type": "InstanceStart"})")));
    EXPECT_EQ(status_line(c.receive()), "HTTP/1.1 204 No Content");
    ASSERT_TRUE(c.send(kGetRoot));
    EXPECT_NE(body_of(c.receive()).find("\"Running\""), std::string::npos);
    EXPECT_EQ(fake.config.machine.vcpu_count, 2u);
}

TEST_F(HttpServerTest, AnswersPipelinedRequestsInOrder) {
    start();
    Client c(options.socket_path);
    ASSERT_TRUE(c.send(std::string(kGetRoot) + "GET /version HTTP/1.1\r\n\r\n" + kGetRoot));
    EXPECT_NE(body_of(c.receive()).find("app_name"), std::string::npos);
    EXPECT_NE(body_of(c.receive()).find("firecracker_version"), std::string::npos);
    EXPECT_NE(body_of(c.receive()).find("app_name"), std::string::npos);
}

TEST_F(HttpServerTest, AnswersAFaultForABadBodyAndKeepsTheConnection) {
    start();
    Client c(options.socket_path);
    ASSERT_TRUE(c.send(put_request("/machine-config", R"({"vcpu_count": "x", "mem_size_mib": 1})")));
    std::string r = c.receive();
    EXPECT_EQ(status_line(r), "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(body_of(r), R"({"fault_message":"vcpu_count: expected an integer"})");
    ASSERT_TRUE(c.send(kGetRoot));
    EXPECT_EQ(status_line(c.receive()), "HTTP/1.1 200 OK");
}

TEST_F(HttpServerTest, ClosesAfterAMalformedRequestLine) {
    start();
    Client c(options.socket_path);
    ASSERT_TRUE(c.send("GARBAGE\r\n\r\n"));
    std::string r = c.receive();
    EXPECT_EQ(status_line(r), "HTTP/1.1 400 Bad Request");
    EXPECT_NE(body_of(r).find("fault_message"), std::string::npos);
    EXPECT_NE(r.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(c.closed_by_server());
    expect_still_serving();
}

TEST_F(HttpServerTest, ClosesAfterAMalformedHeader) {
    start();
    Client c(options.socket_path);
    ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nNo colon here\r\n\r\n"));
    EXPECT_EQ(status_line(c.receive()), "HTTP/1.1 400 Bad Request");
    EXPECT_TRUE(c.closed_by_server());
}

TEST_F(HttpServerTest, RefusesOversizedHeaders) {
    start();
    Client c(options.socket_path);
    std::string big = "GET / HTTP/1.1\r\nX-Pad: " + std::string(20000, 'a') + "\r\n\r\n";
    c.send(big);  // The server may close before taking it all.
    std::string r = c.receive();
    EXPECT_EQ(status_line(r), "HTTP/1.1 400 Bad Request");
    EXPECT_NE(r.find("too long"), std::string::npos);
    EXPECT_TRUE(c.closed_by_server());
    expect_still_serving();
}

TEST_F(HttpServerTest, RefusesAnOversizedUrl) {
    start();
    Client c(options.socket_path);
    c.send("GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n");
    EXPECT_EQ(status_line(c.receive()), "HTTP/1.1 400 Bad Request");
}

TEST_F(HttpServerTest, RefusesABodyOverTheLimitWith413) {
    options.limits.max_body_bytes = 1000;
    start();
    Client c(options.socket_path);
    std::string body = R"({"kernel_image_path": ")" + std::string(2000, 'k') + "\"}";
    c.send(put_request("/boot-source", body));
    std::string r = c.receive();
    EXPECT_EQ(status_line(r), "HTTP/1.1 413 Payload Too Large");
    EXPECT_NE(r.find("larger than the limit of 1000"), std::string::npos);
    EXPECT_TRUE(c.closed_by_server());
    EXPECT_TRUE(fake.calls().empty());
}

TEST_F(HttpServerTest, AcceptsABodyAtTheDefaultLimit) {
    start();
    Client c(options.socket_path);
    std::string body = R"({"kernel_image_path": "/k", "boot_args": ")";
    body += std::string(51200 - body.size() - 2, 'a') + "\"}";
    ASSERT_EQ(body.size(), 51200u);
    ASSERT_TRUE(c.send(put_request("/boot-source", body)));
    std::string r = c.receive();
    // The body arrives whole; validation then refuses a command line over 2048 bytes.
    EXPECT_EQ(status_line(r), "HTTP/1.1 400 Bad Request");
    EXPECT_NE(r.find("boot_args"), std::string::npos);
}

TEST_F(HttpServerTest, RefusesChunkedBodies) {
    start();
    Client c(options.socket_path);
    c.send("PUT /actions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    std::string r = c.receive();
    EXPECT_EQ(status_line(r), "HTTP/1.1 400 Bad Request");
    EXPECT_NE(r.find("Transfer-Encoding"), std::string::npos);
}

TEST_F(HttpServerTest, ServesAClientSendingOneByteAtATime) {
    start();
    Client slow(options.socket_path);
    std::string request = put_request("/actions", R"({"action_type": "FlushMetrics"})");
    for (size_t i = 0; i < request.size(); ++i) {
        ASSERT_TRUE(slow.send(request.substr(i, 1)));
        if (i % 16 == 0) {
            std::this_thread::sleep_for(1ms);
            // Another client is served while the slow one is mid-request.
            if (i == 32) expect_still_serving();
        }
    }
    EXPECT_EQ(status_line(slow.receive()), "HTTP/1.1 204 No Content");
    EXPECT_EQ(fake.last_call(), "flush_metrics");
}

TEST_F(HttpServerTest, DropsAClientThatStallsMidRequest) {
    start();
    Client stalled(options.socket_path);
    ASSERT_TRUE(stalled.send("PUT /actions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"));
    expect_still_serving();
    EXPECT_TRUE(stalled.closed_by_server(3s));
}

TEST_F(HttpServerTest, SurvivesAClientDisconnectingMidRequest) {
    start();
    {
        Client gone(options.socket_path);
        ASSERT_TRUE(gone.send("PUT /actions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"act"));
    }
    {
        Client gone(options.socket_path);
        ASSERT_TRUE(gone.send("GET / HT"));
    }
    expect_still_serving();
    EXPECT_TRUE(fake.calls().empty() || fake.last_call() == "instance_info");
}

TEST_F(HttpServerTest, AnswersACompleteRequestSentBeforeAHalfClose) {
    start();
    Client c(options.socket_path);
    ASSERT_TRUE(c.send(kGetRoot));
    // Half-close: the answer must still arrive.
    ASSERT_EQ(::shutdown(c.fd_for_test(), SHUT_WR), 0);
    EXPECT_EQ(status_line(c.receive()), "HTTP/1.1 200 OK");
    EXPECT_TRUE(c.closed_by_server());
}

TEST_F(HttpServerTest, ServesAHundredClientsAtOnce) {
    start();
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 100; ++i) {
        clients.push_back(std::make_unique<Client>(options.socket_path));
        ASSERT_TRUE(clients.back()->connected()) << i;
    }
    for (auto& c : clients) ASSERT_TRUE(c->send(kGetRoot));
    for (auto& c : clients) EXPECT_EQ(status_line(c->receive()), "HTTP/1.1 200 OK");
    // And from 100 threads at once.
    std::vector<std::jthread> threads;
    std::atomic<int> good{0};
    for (int i = 0; i < 100; ++i) {
        threads.emplace_back([&] {
            Client c(options.socket_path);
            if (c.send(kGetRoot) && status_line(c.receive()) == "HTTP/1.1 200 OK") good++;
        });
    }
    threads.clear();
    EXPECT_EQ(good.load(), 100);
}

TEST_F(HttpServerTest, RefusesClientsBeyondTheConnectionLimit) {
    options.max_connections = 2;
    start();
    Client a(options.socket_path), b(options.socket_path);
    ASSERT_TRUE(a.send(kGetRoot));
    ASSERT_TRUE(b.send(kGetRoot));
    EXPECT_EQ(status_line(a.receive()), "HTTP/1.1 200 OK");
    EXPECT_EQ(status_line(b.receive()), "HTTP/1.1 200 OK");
    Client c(options.socket_path);
    EXPECT_EQ(status_line(c.receive()), "HTTP/1.1 503 Service Unavailable");
}

TEST_F(HttpServerTest, StillAnswersAfterOneHundredThousandRandomByteStrings) {
    start();
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> length(1, 64);
    Client c(options.socket_path);
    int reconnects = 0;
    for (int i = 0; i < 100000; ++i) {
        std::string junk(static_cast<size_t>(length(rng)), '\0');
        for (char& ch : junk) ch = static_cast<char>(byte(rng));
        if (!c.send(junk)) {
            // The server answered 400 and closed: start over on a new connection.
            c = Client(options.socket_path);
            ++reconnects;
            ASSERT_TRUE(c.send(junk));
        }
    }
    EXPECT_GT(reconnects, 0);
    expect_still_serving();
}

TEST_F(HttpServerTest, RefusesToTakeOverAnExistingSocketPath) {
    start();
    auto second = HttpServer::start(options, router);
    EXPECT_FALSE(second);
}

TEST_F(HttpServerTest, RemovesTheSocketFileWhenStopped) {
    start();
    EXPECT_EQ(::access(options.socket_path.c_str(), F_OK), 0);
    server.reset();
    EXPECT_NE(::access(options.socket_path.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace ember::api
