// CRC-64/XZ (ECMA-182 polynomial, reflected, inverted): the state file's integrity check.
#pragma once

#include <cstdint>
#include <span>

namespace ember::snapshot {

// Continues a running CRC: crc64(b, crc64(a)) == crc64(a + b). Start from 0.
uint64_t crc64(std::span<const uint8_t> data, uint64_t crc = 0);

}  // namespace ember::snapshot
