#include "vmm/api_metrics.h"

#include <time.h>

#include <algorithm>
#include <vector>

namespace ember {
namespace {

uint64_t clock_us(clockid_t clock) {
    timespec ts{};
    ::clock_gettime(clock, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

}  // namespace

StartupTimes startup_times(std::optional<uint64_t> start_time_us,
                           std::optional<uint64_t> start_time_cpu_us,
                           std::optional<uint64_t> parent_cpu_time_us, uint64_t monotonic_now_us,
                           uint64_t cpu_now_us) {
    StartupTimes t;
    if (start_time_us) t.wall_us = monotonic_now_us - std::min(*start_time_us, monotonic_now_us);
    if (start_time_cpu_us) {
        t.cpu_us =
            cpu_now_us - std::min(*start_time_cpu_us, cpu_now_us) + parent_cpu_time_us.value_or(0);
    }
    return t;
}

uint64_t monotonic_now_us() { return clock_us(CLOCK_MONOTONIC); }
uint64_t process_cpu_now_us() { return clock_us(CLOCK_PROCESS_CPUTIME_ID); }

Vmm::MetricsSource api_metrics(const api::Router& router, StartupTimes times) {
    return [&router, times](std::vector<MetricGroup>& groups) {
        const api::ApiRequestCounters& c = router.counters();
        groups.push_back({"api_server",
                          {{"process_startup_time_us", times.wall_us, MetricKind::kGauge},
                           {"process_startup_time_cpu_us", times.cpu_us, MetricKind::kGauge}}});
        groups.push_back({"get_api_requests", {{"count", c.get_count.load()}}});
        groups.push_back(
            {"put_api_requests", {{"count", c.put_count.load()}, {"fails", c.put_fails.load()}}});
        groups.push_back({"patch_api_requests",
                          {{"count", c.patch_count.load()}, {"fails", c.patch_fails.load()}}});
        // Ember has no deprecated command-line flags: the second stays 0, as Firecracker's now.
        groups.push_back({"deprecated_api",
                          {{"deprecated_http_api_calls", c.deprecated_http_api_calls.load()},
                           {"deprecated_cmd_line_api_calls", 0}}});
    };
}

}  // namespace ember
