// Firecracker's start-up figures (ProcessTimeReporter) from the jailer's clocks, and the API's
// metric groups.
#include "vmm/api_metrics.h"

#include <gtest/gtest.h>

#include "tests/fakes/fake_vmm_controller.h"

namespace ember {
namespace {

TEST(StartupTimes, AreReportedOnlyForTheClocksTheJailerPassed) {
    StartupTimes none = startup_times({}, {}, {}, 5'000'000, 700);
    EXPECT_EQ(none.wall_us, 0u);
    EXPECT_EQ(none.cpu_us, 0u);
    // The parent's CPU time alone does not make a figure: Firecracker needs the start too.
    EXPECT_EQ(startup_times({}, {}, 9'000, 5'000'000, 700).cpu_us, 0u);
}

TEST(StartupTimes, AreNowMinusStartPlusTheParentsCpuTime) {
    StartupTimes t = startup_times(4'000'000, 200, 9'000, 5'000'000, 700);
    EXPECT_EQ(t.wall_us, 1'000'000u);
    EXPECT_EQ(t.cpu_us, 500u + 9'000u);
    EXPECT_EQ(startup_times(4'000'000, 200, {}, 5'000'000, 700).cpu_us, 500u);
}

TEST(StartupTimes, CountAStartInTheFutureAsNow) {
    StartupTimes t = startup_times(6'000'000, 900, 10, 5'000'000, 700);
    EXPECT_EQ(t.wall_us, 0u);
    EXPECT_EQ(t.cpu_us, 10u);
}

TEST(StartupTimes, ClocksAreMonotonicAndThisProcesssCpu) {
    uint64_t a = monotonic_now_us();
    uint64_t b = monotonic_now_us();
    EXPECT_LE(a, b);
    EXPECT_GT(process_cpu_now_us(), 0u);
}

TEST(ApiMetrics, WriteApiServerAndTheRequestCounters) {
    testing::FakeVmmController fake;
    api::Router router(fake);
    (void)router.handle(api::HttpRequest{api::HttpMethod::kGet, "GET", "/", ""});
    (void)router.handle(api::HttpRequest{api::HttpMethod::kPut, "PUT", "/mmds/config",
                                         R"({"network_interfaces": ["eth0"]})"});
    std::vector<MetricGroup> groups;
    api_metrics(router, StartupTimes{12, 34})(groups);
    ASSERT_EQ(groups.size(), 5u);
    EXPECT_EQ(groups[0].name, "api_server");
    EXPECT_EQ(groups[0].metrics[0].name, "process_startup_time_us");
    EXPECT_EQ(groups[0].metrics[0].value, 12u);
    EXPECT_EQ(groups[0].metrics[1].name, "process_startup_time_cpu_us");
    EXPECT_EQ(groups[0].metrics[1].value, 34u);
    EXPECT_EQ(groups[1].name, "get_api_requests");
    EXPECT_EQ(groups[1].metrics[0].value, 1u);
    // PUT /mmds/config without a version is V1, which Firecracker counts as deprecated.
    EXPECT_EQ(groups[4].name, "deprecated_api");
    EXPECT_EQ(groups[4].metrics[0].name, "deprecated_http_api_calls");
    EXPECT_EQ(groups[4].metrics[0].value, 1u);
}

}  // namespace
}  // namespace ember
