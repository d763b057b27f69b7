#include "devices/legacy/serial_persist.h"

#include <fmt/core.h>

#include "vmm/persist/device_blob.h"

namespace ember::snapshot {
namespace {

// Never renumber or reuse a tag: add new ones at the end.
namespace serial_tag {
enum : uint32_t {
    kIer = 1,
    kLcr = 2,
    kMcr = 3,
    kScr = 4,
    kDll = 5,
    kDlm = 6,
    kThrEmptyPending = 7,
    kRxLen = 8,
    kRx = 9
};
}

constexpr const char* kSerialContext = "snapshot device serial-8250";

}  // namespace

DeviceState encode_serial(const Serial8250::State& s) {
    FieldWriter w;
    w.u32(serial_tag::kIer, s.ier);
    w.u32(serial_tag::kLcr, s.lcr);
    w.u32(serial_tag::kMcr, s.mcr);
    w.u32(serial_tag::kScr, s.scr);
    w.u32(serial_tag::kDll, s.dll);
    w.u32(serial_tag::kDlm, s.dlm);
    w.u32(serial_tag::kThrEmptyPending, s.thr_empty_pending);
    w.u32(serial_tag::kRxLen, s.rx_len);
    w.bytes(serial_tag::kRx, s.rx);
    return make_device_blob("serial", kSerialType, w);
}

Result<Serial8250::State> decode_serial(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open_device_blob(d, kSerialType, kSerialContext));
    Serial8250::State s;
    EMBER_TRY(r.number(serial_tag::kIer, "ier", s.ier));
    EMBER_TRY(r.number(serial_tag::kLcr, "lcr", s.lcr));
    EMBER_TRY(r.number(serial_tag::kMcr, "mcr", s.mcr));
    EMBER_TRY(r.number(serial_tag::kScr, "scr", s.scr));
    EMBER_TRY(r.number(serial_tag::kDll, "dll", s.dll));
    EMBER_TRY(r.number(serial_tag::kDlm, "dlm", s.dlm));
    EMBER_TRY(r.number(serial_tag::kThrEmptyPending, "thr_empty_pending", s.thr_empty_pending));
    EMBER_TRY(r.number(serial_tag::kRxLen, "rx_len", s.rx_len));
    EMBER_TRY(r.fixed_bytes(serial_tag::kRx, "rx", s.rx));
    return s;
}

std::string summarize_serial(const Serial8250::State& s) {
    return fmt::format("IER {:#x} LCR {:#x} MCR {:#x}, {} input bytes queued{}", s.ier, s.lcr,
                       s.mcr, s.rx_len, s.thr_empty_pending ? ", THRE interrupt pending" : "");
}

}  // namespace ember::snapshot
