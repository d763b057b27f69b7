// summarize_device(): one line about a device blob for describe(), from the codec next to each
// device (devices/**/*_persist.h).
#pragma once

#include <string>

#include "vmm/persist/device_state.h"

namespace ember::snapshot {

// One line about a device blob of a known type, e.g. the drive, its slot and its queue indices;
// "UNREADABLE: ..." when it does not decode, an empty string for an unknown type.
std::string summarize_device(const DeviceState& d);

}  // namespace ember::snapshot
