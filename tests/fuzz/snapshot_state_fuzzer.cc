// libFuzzer target: the snapshot state file parser. The input is the sections part of a file; the
// fuzzer wraps it in a valid header and CRC so that the section and field decoders, not the CRC
// check, see the mutations. Whatever decodes must encode to bytes that decode to the same bytes.
// The same input, as the blob of each device type, goes through the device codecs too.
// tests/run.sh gives each input 2 s (-timeout=2), so a super-linear path fails like a crash. The
// seed many_empty_fields (a machine section of 20000 empty fields, also a blob of 20002 fields)
// is the crafted file of the hardening issue: quadratic parsing took over 100 s on it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "devices/legacy/boot_timer_persist.h"
#include "devices/legacy/cmos_persist.h"
#include "devices/legacy/i8042_persist.h"
#include "devices/legacy/serial_persist.h"
#include "devices/legacy/vmgenid_persist.h"
#include "devices/virtio/block/block_persist.h"
#include "devices/virtio/net/net_persist.h"
#include "vmm/persist/byte_io.h"
#include "vmm/snapshot/crc64.h"
#include "vmm/snapshot/describe.h"
#include "vmm/snapshot/device_summary.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/snapshot/state_file.h"

namespace {

using ember::snapshot::DeviceState;

// A device codec refuses or decodes `data`, never crashes; what decodes encodes to a blob that
// decodes to the same state. Block and net blobs must carry their config's id: the seeds use these.
template <typename Decode, typename Encode>
void check_device_codec(std::string_view type, const char* id, const uint8_t* data, size_t size,
                        Decode decode, Encode encode) {
    DeviceState blob{
        .id = id, .type = std::string(type), .version = 1, .data = {data, data + size}};
    (void)ember::snapshot::summarize_device(blob);
    auto decoded = decode(blob);
    if (!decoded) return;
    auto again = decode(encode(*decoded));
    if (!again || !(*again == *decoded)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ember::snapshot;
    check_device_codec(kSerialType, "serial", data, size, decode_serial, encode_serial);
    check_device_codec(kI8042Type, "i8042", data, size, decode_i8042, encode_i8042);
    check_device_codec(kCmosType, "cmos", data, size, decode_cmos, encode_cmos);
    check_device_codec(kBootTimerType, "boot-timer", data, size, decode_boot_timer,
                       encode_boot_timer);
    check_device_codec(kVmGenIdType, "vmgenid", data, size, decode_vmgenid, encode_vmgenid);
    check_device_codec(kBlockType, "rootfs", data, size, decode_block, encode_block);
    check_device_codec(kNetType, "eth0", data, size, decode_net, encode_net);

    ByteWriter w;
    w.u64(kStateMagic);
    w.u32(kArchX86_64);
    w.u16(kFormatMajor);
    w.u16(kFormatMinor);
    w.u64(kHeaderBytes + size + kCrcBytes);
    w.bytes({data, size});
    w.u64(crc64(w.data()));
    std::vector<uint8_t> file = w.take();

    (void)describe(file);
    auto state = decode_machine_state(file);
    if (!state) return 0;
    std::vector<uint8_t> encoded = encode_machine_state(*state);
    auto again = decode_machine_state(encoded);
    if (!again || encode_machine_state(*again) != encoded) std::abort();
    return 0;
}
