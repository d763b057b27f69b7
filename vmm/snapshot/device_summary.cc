#include "vmm/snapshot/device_summary.h"

#include "devices/legacy/boot_timer_persist.h"
#include "devices/legacy/cmos_persist.h"
#include "devices/legacy/i8042_persist.h"
#include "devices/legacy/serial_persist.h"
#include "devices/legacy/vmgenid_persist.h"
#include "devices/virtio/block/block_persist.h"
#include "devices/virtio/net/net_persist.h"

namespace ember::snapshot {
namespace {

template <typename State>
std::string summary_or_error(const Result<State>& decoded, std::string (*summarize)(const State&)) {
    if (!decoded) return "UNREADABLE: " + decoded.error().message();
    return summarize(*decoded);
}

}  // namespace

std::string summarize_device(const DeviceState& d) {
    if (d.type == kSerialType) return summary_or_error(decode_serial(d), summarize_serial);
    if (d.type == kI8042Type) return summary_or_error(decode_i8042(d), summarize_i8042);
    if (d.type == kCmosType) return summary_or_error(decode_cmos(d), summarize_cmos);
    if (d.type == kBootTimerType) {
        return summary_or_error(decode_boot_timer(d), summarize_boot_timer);
    }
    if (d.type == kVmGenIdType) return summary_or_error(decode_vmgenid(d), summarize_vmgenid);
    if (d.type == kBlockType) return summary_or_error(decode_block(d), summarize_block);
    if (d.type == kNetType) return summary_or_error(decode_net(d), summarize_net);
    return "";
}

}  // namespace ember::snapshot
