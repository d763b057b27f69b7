// libFuzzer target: the snapshot state file parser. The input is the sections part of a file; the
// fuzzer wraps it in a valid header and CRC so that the section and field decoders, not the CRC
// check, see the mutations. Whatever decodes must encode to bytes that decode to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "vmm/snapshot/byte_io.h"
#include "vmm/snapshot/crc64.h"
#include "vmm/snapshot/describe.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/snapshot/state_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ember::snapshot;
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
