// Property: whatever bytes a client sends, the API server under the real seccomp filters (in a
// forked child) keeps running and keeps answering. Random hostile requests (nesting, key counts,
// sizes around the body limit, pipelining, random bytes) from a fixed seed, bounded in count and
// time; a failure names the seed and the round to replay it.
#include <stdlib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <string>

#include "tests/unit/api/filtered_api_child.h"

namespace ember::api::testing {
namespace {

constexpr uint64_t kSeed = 0x5ecc0b9;
constexpr int kRounds = 400;
constexpr int kRoundsPerChild = 8;
constexpr auto kTimeBudget = std::chrono::seconds(60);
constexpr size_t kBodyLimit = 51200;

class Generator {
public:
    explicit Generator(uint64_t seed) : rng_(seed) {}

    // One connection's worth of bytes.
    std::string connection() {
        std::string out;
        size_t requests = pick({1, 1, 1, 2, 16, 300, 3000});
        for (size_t i = 0; i < requests && out.size() < 4 * 1024 * 1024; ++i) {
            out += request(i + 1 == requests);
        }
        return out;
    }

private:
    size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
    size_t pick(std::initializer_list<size_t> choices) {
        return *(choices.begin() + below(choices.size()));
    }

    std::string request(bool last) {
        if (below(10) == 0) return random_bytes(below(70000));
        static const char* kMethods[] = {"GET", "PUT", "PATCH", "DELETE", "POST"};
        static const char* kPaths[] = {"/", "/machine-config", "/drives/rootfs", "/boot-source",
                                       "/network-interfaces/eth0", "/actions", "/logger",
                                       "/metrics", "/mmds", "/vm", "/snapshot/create",
                                       "/balloon", "/vm/config", "/entropy"};
        std::string method = kMethods[below(std::size(kMethods))];
        std::string path = kPaths[below(std::size(kPaths))];
        if (method == "GET") return http_request(method, path, "", last);
        return http_request(method, path, body(), last);
    }

    std::string body() {
        switch (below(6)) {
            case 0: return nest(1 + below(kBodyLimit / 2));
            case 1: return keys(below(12000));
            case 2: return string_field(pick({100, 4096, 32768, 40000, kBodyLimit - 100,
                                              kBodyLimit, kBodyLimit + 1, 70000}));
            case 3: return random_bytes(below(kBodyLimit + 1000));
            case 4: return mixed(below(8));
            default: return R"({"vcpu_count":1,"mem_size_mib":128})";
        }
    }

    std::string nest(size_t depth) {
        std::string open, close;
        for (size_t i = 0; i < depth && open.size() < kBodyLimit / 2; ++i) {
            bool object = below(2) == 0;
            open += object ? "{\"k\":" : "[";
            close.insert(close.begin(), object ? '}' : ']');
        }
        // Sometimes left unclosed or closed wrongly.
        if (below(4) == 0) return open;
        if (below(4) == 0) std::reverse(close.begin(), close.end());
        return open + "0" + close;
    }

    std::string keys(size_t count) {
        std::string out = "{";
        for (size_t i = 0; i < count && out.size() < kBodyLimit - 16; ++i) {
            if (i) out += ",";
            out += "\"" + std::to_string(below(3) == 0 ? i : 0) + "\":" +
                   (below(5) == 0 ? "{}" : "1");
        }
        return out + "}";
    }

    std::string string_field(size_t size) {
        std::string head = R"({"drive_id":"rootfs","path_on_host":")";
        std::string tail = R"(","is_root_device":true,"is_read_only":false})";
        size_t fill = size > head.size() + tail.size() ? size - head.size() - tail.size() : 1;
        return head + std::string(fill, static_cast<char>('a' + below(26))) + tail;
    }

    std::string random_bytes(size_t size) {
        std::string out(size, '\0');
        for (char& c : out) c = static_cast<char>(below(256));
        return out;
    }

    std::string mixed(size_t parts) {
        std::string out = "{";
        for (size_t i = 0; i < parts; ++i) {
            if (i) out += ",";
            out += "\"f" + std::to_string(i) + "\":";
            switch (below(4)) {
                case 0: out += nest(1 + below(2000)); break;
                case 1: out += keys(below(1500)); break;
                case 2: out += "\"" + random_bytes(below(3000)) + "\""; break;
                default: out += std::to_string(rng_()); break;
            }
        }
        return out + "}";
    }

    std::mt19937_64 rng_;
};

TEST(ApiUnderSeccompProperty, RandomHostileConnectionsNeverStopTheServer) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "the filters allow glibc malloc's syscalls, not a sanitizer allocator's";
#endif
    char tmpl[] = "/tmp/ember-api-seccomp-prop-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    Generator gen(kSeed);
    auto start = std::chrono::steady_clock::now();
    int round = 0;
    while (round < kRounds && std::chrono::steady_clock::now() - start < kTimeBudget) {
        // A fresh child every few connections: glibc raises its trim threshold after freeing a
        // large mmapped block, so a long-lived heap hides what a young one reaches.
        FilteredApiChild child(dir);
        ASSERT_TRUE(child.alive()) << child.obituary();
        for (int i = 0; i < kRoundsPerChild && round < kRounds; ++i, ++round) {
            std::string bytes = gen.connection();
            // Some clients hang up without waiting for the answers.
            (void)send_and_receive(child.socket_path(), bytes,
                                   round % 7 == 0 ? std::chrono::milliseconds(20)
                                                  : std::chrono::seconds(20));
            ASSERT_TRUE(child.alive()) << "seed " << kSeed << ", round " << round << ": "
                                       << child.obituary();
        }
        ASSERT_EQ(response_statuses(send_and_receive(child.socket_path(),
                                                     http_request("GET", "/", ""))),
                  std::vector<int>{200})
            << "seed " << kSeed << ", round " << round << ": " << child.obituary();
    }
    EXPECT_GE(round, 50) << "too few rounds in the time budget to mean anything";
    std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace ember::api::testing
