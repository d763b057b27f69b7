// Hostile API requests against the real API server under the real seccomp filters (in a forked
// child): each gets an HTTP answer and the process lives on. Before use_one_malloc_arena, a body
// of ~40 KB made glibc shrink the API thread's arena, which opens /proc/sys/vm/overcommit_memory,
// and the filter killed the process (exit 148).
#include <stdlib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "tests/unit/api/filtered_api_child.h"
#include "tests/unit/api/hostile_requests.h"
#include "tests/unit/api/raw_http_client.h"

namespace ember::api::testing {
namespace {

constexpr size_t kBodyLimit = kDefaultBodyLimit;

class ApiUnderSeccomp : public ::testing::Test {
protected:
    void SetUp() override {
        if (kSanitizerAllocator) GTEST_SKIP() << "a sanitizer's allocator is not glibc's";
        char tmpl[] = "/tmp/ember-api-seccomp-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        child_ = std::make_unique<FilteredApiChild>(dir_);
        ASSERT_TRUE(child_->alive()) << child_->obituary();
    }
    void TearDown() override {
        child_.reset();
        if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
    }

    // Sends `bytes` on one connection; returns the statuses of the answers.
    std::vector<int> send(const std::string& bytes) {
        return response_statuses(send_and_receive(child_->socket_path(), bytes));
    }

    // The child still runs and still answers.
    void expect_still_serving() {
        EXPECT_TRUE(child_->alive()) << child_->obituary();
        EXPECT_EQ(send(http_request("GET", "/", "")), std::vector<int>{200}) << child_->obituary();
    }

    std::string dir_;
    std::unique_ptr<FilteredApiChild> child_;
};

TEST_F(ApiUnderSeccomp, ABodyAtTheLimitGetsA400AndTheProcessLivesOn) {
    EXPECT_EQ(send(http_request("PUT", "/machine-config", body_of_size(kBodyLimit))),
              std::vector<int>{400});
    expect_still_serving();
}

TEST_F(ApiUnderSeccomp, ABodyOneByteOverTheLimitGetsA400AndTheProcessLivesOn) {
    EXPECT_EQ(send(http_request("PUT", "/machine-config", body_of_size(kBodyLimit + 1))),
              std::vector<int>{400});
    expect_still_serving();
}

TEST_F(ApiUnderSeccomp, LargeBodiesOnEveryPathGetAnAnswerAndTheProcessLivesOn) {
    for (const char* path : {"/drives/rootfs", "/boot-source", "/network-interfaces/eth0",
                             "/logger", "/metrics", "/mmds", "/snapshot/create", "/vm"}) {
        std::vector<int> statuses = send(http_request("PUT", path, body_of_size(40000)));
        ASSERT_EQ(statuses.size(), 1u) << path << ": " << child_->obituary();
        EXPECT_GE(statuses[0], 200) << path;
    }
    expect_still_serving();
}

TEST_F(ApiUnderSeccomp, JsonNestedAsDeepAsTheBodyAllowsGetsA400AndTheProcessLivesOn) {
    // From shallow to the deepest a body within the limit can hold, so whatever depth limit the
    // parser has is reached and passed.
    for (size_t depth : {size_t{64}, size_t{512}, size_t{4096}, size_t{16384}, kBodyLimit / 2}) {
        EXPECT_EQ(send(http_request("PUT", "/machine-config", nested_arrays(depth))),
                  std::vector<int>{400})
            << "arrays, depth " << depth << ": " << child_->obituary();
    }
    for (size_t depth : {size_t{64}, size_t{1024}, kBodyLimit / 6}) {
        EXPECT_EQ(send(http_request("PUT", "/machine-config", nested_objects(depth))),
                  std::vector<int>{400})
            << "objects, depth " << depth << ": " << child_->obituary();
    }
    expect_still_serving();
}

TEST_F(ApiUnderSeccomp, AnUnclosedNestBeyondTheLimitGetsA400AndTheProcessLivesOn) {
    EXPECT_EQ(send(http_request("PUT", "/machine-config", std::string(kBodyLimit, '['))),
              std::vector<int>{400});
    expect_still_serving();
}

TEST_F(ApiUnderSeccomp, TenThousandKeysGetA400AndTheProcessLivesOn) {
    std::string body = many_keys(10000);
    ASSERT_LE(body.size(), kBodyLimit);
    EXPECT_EQ(send(http_request("PUT", "/machine-config", body)), std::vector<int>{400});
    expect_still_serving();
}

TEST_F(ApiUnderSeccomp, TenThousandPipelinedRequestsAllGetAnAnswer) {
    std::vector<int> statuses = send(pipelined_gets(10000));
    EXPECT_EQ(statuses.size(), 10001u) << child_->obituary();
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 10001);
    expect_still_serving();
}

TEST_F(ApiUnderSeccomp, TwoThousandPipelinedLargePutsAllGetAnAnswer) {
    // Each body is parsed on the API thread and converted on the vmm thread.
    std::string body = body_of_size(4096);
    std::string requests;
    for (int i = 0; i < 2000; ++i) requests += http_request("PUT", "/machine-config", body, false);
    requests += http_request("GET", "/", "");
    std::vector<int> statuses = send(requests);
    EXPECT_EQ(statuses.size(), 2001u) << child_->obituary();
    expect_still_serving();
}

TEST_F(ApiUnderSeccomp, InvalidUtf8GetsA400AndTheProcessLivesOn) {
    std::string body =
        "{\"vcpu_count\":1,\"mem_size_mib\":128,\"x\":\"\xff\xfe\xc0\x80\xed\xa0\x80\"}";
    EXPECT_EQ(send(http_request("PUT", "/machine-config", body)), std::vector<int>{400});
    std::string big = "{\"drive_id\":\"";
    for (int i = 0; i < 10000; ++i) big += "\xc3\x28\xe2\x82";
    big += "\"}";
    EXPECT_EQ(send(http_request("PUT", "/drives/x", big)), std::vector<int>{400});
    expect_still_serving();
}

TEST_F(ApiUnderSeccomp, EveryCaseOfTheSandboxTestGetsItsAnswersOnOneServer) {
    for (const HostileCase& c : hostile_cases()) {
        std::vector<int> statuses = send(c.bytes);
        EXPECT_TRUE(statuses_match(statuses, c.statuses))
            << c.name << ": " << statuses.size() << " answers, first "
            << (statuses.empty() ? 0 : statuses[0]) << "; " << child_->obituary();
        ASSERT_TRUE(child_->alive()) << c.name << ": " << child_->obituary();
    }
    expect_still_serving();
}

}  // namespace
}  // namespace ember::api::testing
