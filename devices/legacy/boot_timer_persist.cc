#include "devices/legacy/boot_timer_persist.h"

#include <fmt/core.h>

#include "vmm/persist/device_blob.h"

namespace ember::snapshot {
namespace {

// Never renumber or reuse a tag: add new ones at the end.
namespace boot_timer_tag {
enum : uint32_t { kWallUs = 1, kCpuUs = 2, kReported = 3 };
}

constexpr const char* kBootTimerContext = "snapshot device boot-timer";

}  // namespace

DeviceState encode_boot_timer(const BootTimer::State& s) {
    FieldWriter w;
    w.u64(boot_timer_tag::kWallUs, s.wall_us);
    w.u64(boot_timer_tag::kCpuUs, s.cpu_us);
    w.u32(boot_timer_tag::kReported, s.reported);
    return make_device_blob("boot-timer", kBootTimerType, w);
}

Result<BootTimer::State> decode_boot_timer(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open_device_blob(d, kBootTimerType, kBootTimerContext));
    BootTimer::State s;
    EMBER_TRY(r.u64(boot_timer_tag::kWallUs, "wall_us", s.wall_us));
    EMBER_TRY(r.u64(boot_timer_tag::kCpuUs, "cpu_us", s.cpu_us));
    EMBER_TRY(r.number(boot_timer_tag::kReported, "reported", s.reported));
    return s;
}

std::string summarize_boot_timer(const BootTimer::State& s) {
    return s.reported ? fmt::format("boot reported at {} us wall, {} us CPU", s.wall_us, s.cpu_us)
                      : std::string("boot not reported yet");
}

}  // namespace ember::snapshot
