// The CMOS RTC's snapshot blob: Cmos::State, one tagged field per member (see
// vmm/persist/device_blob.h for the envelope and what decoding checks).
#pragma once

#include <string>
#include <string_view>

#include "devices/legacy/cmos.h"
#include "vmm/base/result.h"
#include "vmm/persist/device_state.h"

namespace ember::snapshot {

inline constexpr std::string_view kCmosType = "cmos-rtc";

DeviceState encode_cmos(const Cmos::State& s);  // id "cmos"
Result<Cmos::State> decode_cmos(const DeviceState& d);
// One line for describe(): the clock offset, the selected register and NMI.
std::string summarize_cmos(const Cmos::State& s);

}  // namespace ember::snapshot
