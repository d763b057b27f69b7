// api_conn_flood_bench: how long a well-behaved client waits for the real `ember` binary's API
// while many hostile clients hold connections to it. No KVM needed (nothing boots).
// Prints; asserts nothing.
//   api_conn_flood_bench EMBER [HOSTILE=1000] [ROUNDS=7]
// Hostile clients, in equal parts: idle (connect, send nothing), slowloris (one header byte a
// second), half-sent headers (then silence) and pipeliners (send GET / as fast as the socket
// takes it, never read). A dropped hostile client reconnects at once; as many as ember's table
// and listen queue hold are connected at any moment, the rest retry connect() every 20 ms. Each
// round, a fresh well-behaved client connects and sends GET / and then PUT /machine-config on the
// same connection; each latency runs from the request's first byte (GET: from connect()) to the
// whole answer. Rounds are 1 s apart, after a 7 s warm-up in which every hostile kind has passed
// ember's 5 s deadlines at least once. ember's output goes to $EMBER_FLOOD_LOG if that is set.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/http_response.h"
#include "vmm/base/unique_fd.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kGet = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
constexpr const char* kSlowHeader = "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
constexpr const char* kHalfHeaderText =
    "PUT /machine-config HTTP/1.1\r\nHost: localhost\r\nContent-Length: 40\r\nContent-Ty";

sockaddr_un address(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    return addr;
}

// The hostile clients, driven by one thread with its own epoll set.
class Flood {
public:
    enum class Kind { kIdle, kSlowloris, kHalfHeaders, kPipeliner };

    Flood(std::string path, size_t count) : path_(std::move(path)), slots_(count) {
        epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
        for (size_t i = 0; i < count; ++i) slots_[i].kind = static_cast<Kind>(i % 4);
        thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
    }
    size_t connected() const { return connected_.load(); }
    uint64_t reconnects() const { return reconnects_.load(); }

private:
    struct Slot {
        Kind kind = Kind::kIdle;
        ember::UniqueFd fd;
        size_t dripped = 0;
        Clock::time_point next_drip;
    };

    void open(size_t i, Clock::time_point now) {
        Slot& s = slots_[i];
        ember::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        sockaddr_un addr = address(path_);
        // EAGAIN: the listen queue is full; the next tick tries again.
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
        s.fd = std::move(fd);
        s.dripped = 0;
        s.next_drip = now + 1s;
        uint32_t events = EPOLLIN | EPOLLRDHUP;
        if (s.kind == Kind::kHalfHeaders) {
            (void)!::send(s.fd.get(), kHalfHeaderText, std::strlen(kHalfHeaderText), MSG_NOSIGNAL);
        } else if (s.kind == Kind::kPipeliner) {
            events = EPOLLOUT | EPOLLRDHUP | EPOLLET;  // Never reads: watch for room and hangups.
        } else if (s.kind == Kind::kSlowloris) {
            drip(s, now);
        }
        epoll_event ev{events, {.u64 = i}};
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s.fd.get(), &ev);
        connected_++;
    }

    void close(size_t i) {
        if (!slots_[i].fd) return;
        slots_[i].fd.reset();
        connected_--;
        reconnects_++;
    }

    void drip(Slot& s, Clock::time_point now) {
        const char* header = kSlowHeader;
        size_t len = std::strlen(header);
        char byte = s.dripped < len ? header[s.dripped] : 'a';
        s.dripped++;
        s.next_drip = now + 1s;
        (void)!::send(s.fd.get(), &byte, 1, MSG_NOSIGNAL);
    }

    void pipeline(Slot& s) {
        static const std::string kBurst = [] {
            std::string b;
            for (int i = 0; i < 64; ++i) b += kGet;
            return b;
        }();
        while (::send(s.fd.get(), kBurst.data(), kBurst.size(), MSG_NOSIGNAL) > 0) {
        }
    }

    void run(const std::stop_token& stop) {
        std::vector<epoll_event> events(256);
        auto next_tick = Clock::now();
        while (!stop.stop_requested()) {
            int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 20);
            auto now = Clock::now();
            // n is -1 on an error (EINTR): no events then.
            const size_t ready = n > 0 ? static_cast<size_t>(n) : 0;
            for (size_t k = 0; k < ready; ++k) {
                size_t i = events[k].data.u64;
                Slot& s = slots_[i];
                if (!s.fd) continue;
                if (events[k].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
                    close(i);
                    open(i, now);
                    continue;
                }
                if (events[k].events & EPOLLOUT) pipeline(s);
                if (events[k].events & EPOLLIN) {
                    // A 408 or 503; the server closes next.
                    char buf[4096];
                    ssize_t r = ::recv(s.fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
                    if (r == 0 || (r < 0 && errno != EAGAIN)) {
                        close(i);
                        open(i, now);
                    }
                }
            }
            if (now < next_tick) continue;
            next_tick = now + 20ms;
            for (size_t i = 0; i < slots_.size(); ++i) {
                Slot& s = slots_[i];
                if (!s.fd) {
                    open(i, now);
                } else if (s.kind == Kind::kSlowloris && now >= s.next_drip) {
                    drip(s, now);
                } else if (s.kind == Kind::kPipeliner) {
                    pipeline(s);
                }
            }
        }
    }

    std::string path_;
    std::vector<Slot> slots_;
    ember::UniqueFd epoll_;
    std::atomic<size_t> connected_{0};
    std::atomic<uint64_t> reconnects_{0};
    std::jthread thread_;  // Last: stopped and joined first.
};

// One answer's status line, or why there is none. Waits up to `deadline`.
std::string read_answer(int fd, Clock::time_point deadline) {
    std::string buffer;
    for (;;) {
        if (ember::bench::complete_response_size(buffer) > 0)
            return buffer.substr(0, buffer.find("\r\n"));
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return "timeout";
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) return "timeout";
        char chunk[4096];
        ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
        if (n == 0) return "closed";
        if (n < 0) return std::string("recv: ") + std::strerror(errno);
        buffer.append(chunk, static_cast<size_t>(n));
    }
}

struct Round {
    double connect_ms = -1;  // -1: failed.
    double get_ms = -1;
    double put_ms = -1;
    std::string failure;
};

// A fresh well-behaved client: GET / (from connect), then PUT /machine-config.
Round well_behaved(const std::string& path) {
    Round r;
    const auto give_up = 10s;
    auto begin = Clock::now();
    ember::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{10, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_un addr = address(path);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        r.failure = std::string("connect: ") + std::strerror(errno);
        return r;
    }
    r.connect_ms = std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
    if (::send(fd.get(), kGet, std::strlen(kGet), MSG_NOSIGNAL) < 0) {
        r.failure = "send GET failed";
        return r;
    }
    std::string status = read_answer(fd.get(), begin + give_up);
    if (status != "HTTP/1.1 200 OK") {
        r.failure = "GET / -> " + status;
        return r;
    }
    r.get_ms = std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
    const std::string body = R"({"vcpu_count": 1, "mem_size_mib": 128})";
    std::string put =
        "PUT /machine-config HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    begin = Clock::now();
    if (::send(fd.get(), put.data(), put.size(), MSG_NOSIGNAL) < 0) {
        r.failure = "send PUT failed";
        return r;
    }
    status = read_answer(fd.get(), begin + give_up);
    if (status != "HTTP/1.1 204 No Content") {
        r.failure = "PUT /machine-config -> " + status;
        return r;
    }
    r.put_ms = std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
    return r;
}

struct Figures {
    std::vector<double> connect, get, put;
    std::vector<std::string> failures;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? -1 : v[v.size() / 2];
}

void print(const char* what, const std::vector<double>& v) {
    if (v.empty()) {
        std::printf("    %-22s no answer in any round\n", what);
        return;
    }
    std::printf("    %-22s median %8.3f ms, min %8.3f, max %8.3f (%zu answered)\n", what, median(v),
                *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()),
                v.size());
}

Figures measure(const std::string& path, int rounds) {
    Figures f;
    for (int i = 0; i < rounds; ++i) {
        Round r = well_behaved(path);
        if (r.connect_ms >= 0) f.connect.push_back(r.connect_ms);
        if (r.get_ms >= 0) f.get.push_back(r.get_ms);
        if (r.put_ms >= 0) f.put.push_back(r.put_ms);
        if (!r.failure.empty()) f.failures.push_back(r.failure);
        std::this_thread::sleep_for(1s);
    }
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: api_conn_flood_bench EMBER [HOSTILE=1000] [ROUNDS=7]\n");
        return 2;
    }
    const char* ember = argv[1];
    const size_t hostile = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1000;
    const int rounds = argc > 3 ? std::max(1, std::atoi(argv[3])) : 7;
    ::signal(SIGPIPE, SIG_IGN);

    // Each hostile client is a descriptor here; ember needs its own few hundred at most.
    rlimit nofile{};
    ::getrlimit(RLIMIT_NOFILE, &nofile);
    const rlim_t wanted = hostile + 128;
    if (nofile.rlim_cur < wanted) {
        rlim_t old = nofile.rlim_cur;
        nofile.rlim_cur = std::min(wanted, nofile.rlim_max);
        ::setrlimit(RLIMIT_NOFILE, &nofile);
        std::printf("api_conn_flood_bench: raised RLIMIT_NOFILE from %lu to %lu\n",
                    static_cast<unsigned long>(old), static_cast<unsigned long>(nofile.rlim_cur));
    }

    char dir[] = "/tmp/ember-flood-bench-XXXXXX";
    if (!::mkdtemp(dir)) return 1;
    const std::string sock = std::string(dir) + "/api.sock";
    pid_t pid = ::fork();
    if (pid == 0) {
        // ember's own output goes to $EMBER_FLOOD_LOG if set, else nowhere.
        const char* log = std::getenv("EMBER_FLOOD_LOG");
        int null = ::open("/dev/null", O_RDWR);
        int out = log ? ::open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644) : null;
        ::dup2(null, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        ::execl(ember, ember, "--api-sock", sock.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    auto started = Clock::now();
    while (::access(sock.c_str(), F_OK) != 0 && Clock::now() - started < 5s) {
        std::this_thread::sleep_for(1ms);
    }

    std::printf(
        "api_conn_flood_bench: %s, %d rounds 1 s apart; latency of a fresh client's\n"
        "GET / (from connect) and PUT /machine-config (same connection)\n",
        ember, rounds);
    Figures quiet = measure(sock, rounds);
    std::printf("  0 hostile connections:\n");
    print("GET / (from connect)", quiet.get);
    print("  of which connect()", quiet.connect);
    print("PUT /machine-config", quiet.put);
    for (const auto& f : quiet.failures) std::printf("    failed: %s\n", f.c_str());

    Figures loud;
    size_t connected_min = hostile, connected_max = 0;
    uint64_t reconnects = 0;
    {
        Flood flood(sock, hostile);
        std::this_thread::sleep_for(7s);
        uint64_t before = flood.reconnects();
        for (int i = 0; i < rounds; ++i) {
            connected_min = std::min(connected_min, flood.connected());
            connected_max = std::max(connected_max, flood.connected());
            Figures one = measure(sock, 1);
            loud.connect.insert(loud.connect.end(), one.connect.begin(), one.connect.end());
            loud.get.insert(loud.get.end(), one.get.begin(), one.get.end());
            loud.put.insert(loud.put.end(), one.put.begin(), one.put.end());
            loud.failures.insert(loud.failures.end(), one.failures.begin(), one.failures.end());
        }
        reconnects = flood.reconnects() - before;
    }
    std::printf(
        "  %zu hostile clients (%zu-%zu connected or queued at each round; %lu dropped by\n"
        "  ember and reconnected while measuring):\n",
        hostile, connected_min, connected_max, static_cast<unsigned long>(reconnects));
    print("GET / (from connect)", loud.get);
    print("  of which connect()", loud.connect);
    print("PUT /machine-config", loud.put);
    for (const auto& f : loud.failures) std::printf("    failed: %s\n", f.c_str());
    if (!quiet.get.empty() && !loud.get.empty()) {
        std::printf("  ratio of medians (hostile / quiet): GET %.2f",
                    median(loud.get) / median(quiet.get));
        if (!quiet.put.empty() && !loud.put.empty()) {
            std::printf(", PUT %.2f", median(loud.put) / median(quiet.put));
        }
        std::printf("\n");
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
        std::printf("  ember exited during the run: %s %d\n",
                    WIFSIGNALED(status) ? "signal" : "status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    } else {
        ::kill(pid, SIGTERM);
        ::waitpid(pid, &status, 0);
    }
    ::unlink(sock.c_str());
    ::rmdir(dir);
    return 0;
}
