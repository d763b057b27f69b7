#include "devices/legacy/cmos_persist.h"

#include <fmt/core.h>

#include "vmm/persist/device_blob.h"

namespace ember::snapshot {
namespace {

// Never renumber or reuse a tag: add new ones at the end.
namespace cmos_tag {
enum : uint32_t {
    kClockOffsetS = 1,
    kSetSec = 2,
    kSetMin = 3,
    kSetHour = 4,
    kSetMday = 5,
    kSetMon = 6,
    kSetYear = 7,
    kSetWday = 8,
    kIndex = 9,
    kNmiDisabled = 10,
    kSetting = 11,
    kRam = 12
};
}

constexpr const char* kCmosContext = "snapshot device cmos-rtc";

}  // namespace

DeviceState encode_cmos(const Cmos::State& s) {
    FieldWriter w;
    w.u64(cmos_tag::kClockOffsetS, static_cast<uint64_t>(s.clock_offset_s));
    w.u32(cmos_tag::kSetSec, static_cast<uint32_t>(s.set_sec));
    w.u32(cmos_tag::kSetMin, static_cast<uint32_t>(s.set_min));
    w.u32(cmos_tag::kSetHour, static_cast<uint32_t>(s.set_hour));
    w.u32(cmos_tag::kSetMday, static_cast<uint32_t>(s.set_mday));
    w.u32(cmos_tag::kSetMon, static_cast<uint32_t>(s.set_mon));
    w.u32(cmos_tag::kSetYear, static_cast<uint32_t>(s.set_year));
    w.u32(cmos_tag::kSetWday, static_cast<uint32_t>(s.set_wday));
    w.u32(cmos_tag::kIndex, s.index);
    w.u32(cmos_tag::kNmiDisabled, s.nmi_disabled);
    w.u32(cmos_tag::kSetting, s.setting);
    w.bytes(cmos_tag::kRam, s.ram);
    return make_device_blob("cmos", kCmosType, w);
}

Result<Cmos::State> decode_cmos(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open_device_blob(d, kCmosType, kCmosContext));
    Cmos::State s;
    EMBER_TRY(r.i64(cmos_tag::kClockOffsetS, "clock_offset_s", s.clock_offset_s));
    EMBER_TRY(r.i32(cmos_tag::kSetSec, "set_sec", s.set_sec));
    EMBER_TRY(r.i32(cmos_tag::kSetMin, "set_min", s.set_min));
    EMBER_TRY(r.i32(cmos_tag::kSetHour, "set_hour", s.set_hour));
    EMBER_TRY(r.i32(cmos_tag::kSetMday, "set_mday", s.set_mday));
    EMBER_TRY(r.i32(cmos_tag::kSetMon, "set_mon", s.set_mon));
    EMBER_TRY(r.i32(cmos_tag::kSetYear, "set_year", s.set_year));
    EMBER_TRY(r.i32(cmos_tag::kSetWday, "set_wday", s.set_wday));
    EMBER_TRY(r.number(cmos_tag::kIndex, "index", s.index));
    EMBER_TRY(r.number(cmos_tag::kNmiDisabled, "nmi_disabled", s.nmi_disabled));
    EMBER_TRY(r.number(cmos_tag::kSetting, "setting", s.setting));
    EMBER_TRY(r.fixed_bytes(cmos_tag::kRam, "ram", s.ram));
    return s;
}

std::string summarize_cmos(const Cmos::State& s) {
    return fmt::format("clock offset {} s, index {:#x}, NMI {}", s.clock_offset_s, s.index,
                       s.nmi_disabled ? "disabled" : "enabled");
}

}  // namespace ember::snapshot
