// The serial port's snapshot blob: Serial8250::State, one tagged field per member (see
// vmm/persist/device_blob.h for the envelope and what decoding checks).
#pragma once

#include <string>
#include <string_view>

#include "devices/legacy/serial_8250.h"
#include "vmm/base/result.h"
#include "vmm/persist/device_state.h"

namespace ember::snapshot {

inline constexpr std::string_view kSerialType = "serial-8250";

DeviceState encode_serial(const Serial8250::State& s);  // id "serial"
Result<Serial8250::State> decode_serial(const DeviceState& d);
// One line for describe(): the registers and the input bytes queued.
std::string summarize_serial(const Serial8250::State& s);

}  // namespace ember::snapshot
