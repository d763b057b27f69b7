// The metrics the API side contributes to Firecracker's metrics line: api_server (the process
// start-up times the jailer lets Firecracker measure) and the per-method request counters.
// Part of the `main` layer: it joins the API's counters to the VMM's metrics sources.
#pragma once

#include <cstdint>
#include <optional>

#include "api/router.h"
#include "vmm/core/vmm.h"

namespace ember {

struct StartupTimes {
    uint64_t wall_us = 0;  // api_server.process_startup_time_us
    uint64_t cpu_us = 0;   // api_server.process_startup_time_cpu_us
};

// Firecracker's ProcessTimeReporter, taken once the API socket is up: the wall figure only with
// --start-time-us (CLOCK_MONOTONIC microseconds, `now - start`), the CPU figure only with
// --start-time-cpu-us (this process's CPU clock, which exec keeps: `now - start + parent`, where
// --parent-cpu-time-us is the CPU time of the jailer's parent); 0 otherwise, as there. A start
// in the future counts as now.
StartupTimes startup_times(std::optional<uint64_t> start_time_us,
                           std::optional<uint64_t> start_time_cpu_us,
                           std::optional<uint64_t> parent_cpu_time_us, uint64_t monotonic_now_us,
                           uint64_t cpu_now_us);

// The two clocks those flags are read on, in microseconds.
uint64_t monotonic_now_us();
uint64_t process_cpu_now_us();

// api_server, get/put/patch_api_requests. `router` outlives the returned source's use.
Vmm::MetricsSource api_metrics(const api::Router& router, StartupTimes times);

}  // namespace ember
