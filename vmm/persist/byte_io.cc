#include "vmm/persist/byte_io.h"

#include <fmt/core.h>

namespace ember::snapshot {

void ByteWriter::patch_u64(size_t offset, uint64_t v) {
    for (size_t i = 0; i < 8; ++i) bytes_.at(offset + i) = static_cast<uint8_t>(v >> (8 * i));
}

Result<uint64_t> ByteReader::le(size_t n) {
    std::span<const uint8_t> b = EMBER_TRY(bytes(n));
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(b[i]) << (8 * i);
    return v;
}

Result<uint8_t> ByteReader::u8() { return static_cast<uint8_t>(EMBER_TRY(le(1))); }
Result<uint16_t> ByteReader::u16() { return static_cast<uint16_t>(EMBER_TRY(le(2))); }
Result<uint32_t> ByteReader::u32() { return static_cast<uint32_t>(EMBER_TRY(le(4))); }
Result<uint64_t> ByteReader::u64() { return EMBER_TRY(le(8)); }

Result<std::span<const uint8_t>> ByteReader::bytes(size_t n) {
    if (n > remaining()) {
        return Error::invalid(
            "snapshot state truncated",
            fmt::format("need {} bytes at offset {}, {} left", n, file_offset(), remaining()));
    }
    std::span<const uint8_t> out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
}

Result<void> ByteReader::skip(size_t n) {
    EMBER_TRY(bytes(n));
    return ok();
}

}  // namespace ember::snapshot
