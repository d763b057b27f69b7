// The VM generation ID device's snapshot blob: VmGenId::State, one tagged field per member (see
// vmm/persist/device_blob.h for the envelope and what decoding checks). A snapshot without it
// (made before Ember had the device) loads without one.
#pragma once

#include <string>
#include <string_view>

#include "devices/legacy/vmgenid.h"
#include "vmm/base/result.h"
#include "vmm/persist/device_state.h"

namespace ember::snapshot {

inline constexpr std::string_view kVmGenIdType = "vmgenid";

DeviceState encode_vmgenid(const VmGenId::State& s);  // id "vmgenid"
Result<VmGenId::State> decode_vmgenid(const DeviceState& d);
// One line for describe(): where the ID lives and its GSI.
std::string summarize_vmgenid(const VmGenId::State& s);

}  // namespace ember::snapshot
