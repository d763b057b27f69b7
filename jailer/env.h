// The jailer's process hygiene: no inherited fds or environment, and its start times.
#pragma once

#include <cstdint>

#include "vmm/base/result.h"

namespace ember::jailer {

// Closes every fd above 2 (close_range) and clears the environment. Called first thing in main.
Result<void> sanitize_process();

// CLOCK_MONOTONIC and this process's CPU time, in microseconds (--start-time-us and
// --start-time-cpu-us for ember).
uint64_t monotonic_us();
uint64_t process_cpu_us();

}  // namespace ember::jailer
