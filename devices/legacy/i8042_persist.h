// The i8042 controller's snapshot blob: I8042::State, one tagged field per member (see
// vmm/persist/device_blob.h for the envelope and what decoding checks).
#pragma once

#include <string>
#include <string_view>

#include "devices/legacy/i8042.h"
#include "vmm/base/result.h"
#include "vmm/persist/device_state.h"

namespace ember::snapshot {

inline constexpr std::string_view kI8042Type = "i8042";

DeviceState encode_i8042(const I8042::State& s);  // id "i8042"
Result<I8042::State> decode_i8042(const DeviceState& d);
// One line for describe(): status, command byte and the output bytes queued.
std::string summarize_i8042(const I8042::State& s);

}  // namespace ember::snapshot
