#include "devices/legacy/i8042_persist.h"

#include <fmt/core.h>

#include "vmm/persist/device_blob.h"

namespace ember::snapshot {
namespace {

// Never renumber or reuse a tag: add new ones at the end.
namespace i8042_tag {
enum : uint32_t {
    kStatus = 1,
    kControl = 2,
    kOutputPort = 3,
    kPendingCommand = 4,
    kBufferLen = 5,
    kBuffer = 6
};
}

constexpr const char* kI8042Context = "snapshot device i8042";

}  // namespace

DeviceState encode_i8042(const I8042::State& s) {
    FieldWriter w;
    w.u32(i8042_tag::kStatus, s.status);
    w.u32(i8042_tag::kControl, s.control);
    w.u32(i8042_tag::kOutputPort, s.output_port);
    w.u32(i8042_tag::kPendingCommand, s.pending_command);
    w.u32(i8042_tag::kBufferLen, s.buffer_len);
    w.bytes(i8042_tag::kBuffer, s.buffer);
    return make_device_blob("i8042", kI8042Type, w);
}

Result<I8042::State> decode_i8042(const DeviceState& d) {
    BlobReader r = EMBER_TRY(open_device_blob(d, kI8042Type, kI8042Context));
    I8042::State s;
    EMBER_TRY(r.number(i8042_tag::kStatus, "status", s.status));
    EMBER_TRY(r.number(i8042_tag::kControl, "control", s.control));
    EMBER_TRY(r.number(i8042_tag::kOutputPort, "output_port", s.output_port));
    EMBER_TRY(r.number(i8042_tag::kPendingCommand, "pending_command", s.pending_command));
    EMBER_TRY(r.number(i8042_tag::kBufferLen, "buffer_len", s.buffer_len));
    EMBER_TRY(r.fixed_bytes(i8042_tag::kBuffer, "buffer", s.buffer));
    return s;
}

std::string summarize_i8042(const I8042::State& s) {
    return fmt::format("status {:#x} command byte {:#x}, {} output bytes queued", s.status,
                       s.control, s.buffer_len);
}

}  // namespace ember::snapshot
