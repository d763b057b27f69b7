#include "devices/legacy/boot_timer.h"

#include <time.h>

#include <algorithm>

#include "vmm/base/log.h"

namespace ember {

uint64_t process_cpu_time_us() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

BootTimer::StartTime BootTimer::StartTime::now() {
    return {std::chrono::steady_clock::now(), process_cpu_time_us()};
}

BootTimer::StartTime BootTimer::StartTime::from_us(uint64_t monotonic_us, uint64_t cpu_us) {
    return {std::chrono::steady_clock::time_point(std::chrono::microseconds(monotonic_us)), cpu_us};
}

void BootTimer::read(uint64_t, std::span<uint8_t> data) { std::fill(data.begin(), data.end(), 0); }

void BootTimer::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset != 0 || data.size() != 1 || data[0] != kMagic || boot_time_) return;
    auto wall = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start_.wall);
    uint64_t cpu_now = process_cpu_time_us();
    BootTime t{static_cast<uint64_t>(wall.count()), cpu_now - std::min(cpu_now, start_.cpu_us)};
    boot_time_ = t;
    EMBER_INFO("Guest-boot-time = {:>6} us {} ms, {:>6} CPU us {} CPU ms", t.wall_us,
               t.wall_us / 1000, t.cpu_us, t.cpu_us / 1000);
}

BootTimer::State BootTimer::save_state() const {
    State s;
    if (boot_time_) {
        s.wall_us = boot_time_->wall_us;
        s.cpu_us = boot_time_->cpu_us;
        s.reported = 1;
    }
    return s;
}

Result<void> BootTimer::restore_state(const State& state) {
    if (state.reported > 1) {
        return Error::invalid("boot timer restore", "reported is not 0 or 1");
    }
    if (!state.reported && (state.wall_us || state.cpu_us)) {
        return Error::invalid("boot timer restore", "boot times set but not reported");
    }
    if (state.reported) {
        boot_time_ = BootTime{state.wall_us, state.cpu_us};
    } else {
        boot_time_.reset();
    }
    return ok();
}

}  // namespace ember
