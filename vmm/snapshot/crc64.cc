#include "vmm/snapshot/crc64.h"

#include <array>

namespace ember::snapshot {
namespace {

constexpr uint64_t kPolyReflected = 0xC96C5795D7870F42ull;

constexpr std::array<uint64_t, 256> make_table() {
    std::array<uint64_t, 256> table{};
    for (uint64_t i = 0; i < 256; ++i) {
        uint64_t crc = i;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? kPolyReflected : 0);
        table[i] = crc;
    }
    return table;
}

constexpr std::array<uint64_t, 256> kTable = make_table();

}  // namespace

uint64_t crc64(std::span<const uint8_t> data, uint64_t crc) {
    crc = ~crc;
    for (uint8_t byte : data) crc = kTable[(crc ^ byte) & 0xff] ^ (crc >> 8);
    return ~crc;
}

}  // namespace ember::snapshot
