// The envelope every device blob shares: a FieldWriter payload under the device's type and id,
// at kDeviceBlobVersion. Each device's *_persist.cc writes one with make_device_blob and opens
// one with open_device_blob, which checks the type and version before any field is read.
//
// The codecs keep one tagged field per member (nested structs as nested payloads), so that a
// later Ember can add fields and an older one refuses only what it cannot restore. A decode_*
// checks the blob's shape (type, version, required fields, sizes, enum and integer ranges) and
// never the device's semantics, which its restore_state() checks; it must not crash on any bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "vmm/base/result.h"
#include "vmm/persist/blob_reader.h"
#include "vmm/persist/device_state.h"
#include "vmm/persist/state_fields.h"

namespace ember::snapshot {

// The blob version every encode_* writes and the only one decode_* reads.
inline constexpr uint32_t kDeviceBlobVersion = 1;

// Takes `fields`' payload as the blob of device `id` of `type`.
DeviceState make_device_blob(std::string id, std::string_view type, FieldWriter& fields);

// The blob's fields when it has `type` and a version this Ember knows. `context` names the device
// in every error ("snapshot device virtio-block").
Result<BlobReader> open_device_blob(const DeviceState& d, std::string_view type,
                                    const char* context);

}  // namespace ember::snapshot
