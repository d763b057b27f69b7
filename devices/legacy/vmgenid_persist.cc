#include "devices/legacy/vmgenid_persist.h"

#include <fmt/core.h>

#include "vmm/persist/device_blob.h"

namespace ember::snapshot {
namespace {

// Never renumber or reuse a tag: add new ones at the end.
namespace vmgenid_tag {
enum : uint32_t { kIdGpa = 1, kGsi = 2 };
}

constexpr const char* kVmGenIdContext = "snapshot device vmgenid";

}  // namespace

DeviceState encode_vmgenid(const VmGenId::State& s) {
    FieldWriter w;
    w.u64(vmgenid_tag::kIdGpa, s.id_gpa);
    w.u32(vmgenid_tag::kGsi, s.gsi);
    return make_device_blob("vmgenid", kVmGenIdType, w);
}

Result<VmGenId::State> decode_vmgenid(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open_device_blob(d, kVmGenIdType, kVmGenIdContext));
    VmGenId::State s;
    EMBER_TRY(r.u64(vmgenid_tag::kIdGpa, "id_gpa", s.id_gpa));
    EMBER_TRY(r.number(vmgenid_tag::kGsi, "gsi", s.gsi));
    return s;
}

std::string summarize_vmgenid(const VmGenId::State& s) {
    return fmt::format("generation ID at {:#x}, notified on GSI {}", s.id_gpa, s.gsi);
}

}  // namespace ember::snapshot
