// Property: whatever bytes a client sends, the API server under the real seccomp filters (in a
// forked child) keeps running and keeps answering. Random hostile requests (nesting, key counts,
// sizes around the body limit, pipelining, random bytes) from a fixed seed, bounded in count and
// time; a failure names the seed and the round to replay it.
#include <stdlib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "tests/unit/api/filtered_api_child.h"
#include "tests/unit/api/hostile_requests.h"
#include "tests/unit/api/raw_http_client.h"

namespace ember::api::testing {
namespace {

constexpr uint64_t kSeed = 0x5ecc0b9;
constexpr int kRounds = 400;
constexpr int kRoundsPerChild = 8;
constexpr auto kTimeBudget = std::chrono::seconds(60);

TEST(ApiUnderSeccompProperty, RandomHostileConnectionsNeverStopTheServer) {
    if (kSanitizerAllocator) GTEST_SKIP() << "a sanitizer's allocator is not glibc's";
    char tmpl[] = "/tmp/ember-api-seccomp-prop-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    HostileGenerator gen(kSeed);
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
            (void)send_and_receive(
                child.socket_path(), bytes,
                round % 7 == 0 ? std::chrono::milliseconds(20) : std::chrono::seconds(20));
            ASSERT_TRUE(child.alive())
                << "seed " << kSeed << ", round " << round << ": " << child.obituary();
        }
        ASSERT_EQ(
            response_statuses(send_and_receive(child.socket_path(), http_request("GET", "/", ""))),
            std::vector<int>{200})
            << "seed " << kSeed << ", round " << round << ": " << child.obituary();
    }
    EXPECT_GE(round, 50) << "too few rounds in the time budget to mean anything";
    std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace ember::api::testing
