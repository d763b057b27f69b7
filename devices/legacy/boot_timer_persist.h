// The boot timer's snapshot blob: BootTimer::State, one tagged field per member (see
// vmm/persist/device_blob.h for the envelope and what decoding checks).
#pragma once

#include <string>
#include <string_view>

#include "devices/legacy/boot_timer.h"
#include "vmm/base/result.h"
#include "vmm/persist/device_state.h"

namespace ember::snapshot {

inline constexpr std::string_view kBootTimerType = "boot-timer";

DeviceState encode_boot_timer(const BootTimer::State& s);  // id "boot-timer"
Result<BootTimer::State> decode_boot_timer(const DeviceState& d);
// One line for describe(): when the guest reported its boot, if it did.
std::string summarize_boot_timer(const BootTimer::State& s);

}  // namespace ember::snapshot
