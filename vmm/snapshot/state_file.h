// The snapshot state file container: a fixed header, tagged sections, a CRC.
//
//   offset  size  field
//   0       8     magic "EMBERSNP"
//   8       4     architecture (kArchX86_64 = 0x8664)
//   12      2+2   format version major, minor
//   16      8     total file size in bytes, CRC included
//   24      ...   sections: tag u32, flags u32, length u64, payload[length]
//   end-8   8     CRC-64/XZ of every byte before it
//
// All integers little-endian. A reader refuses another major version and skips sections whose tag
// it does not know unless they carry kMustUnderstand, so a later Ember adds state as new
// sections (or new fields inside one, see state_fields.h) and bumps only the minor version.
// decode() checks everything before returning: nothing is applied from a file that fails.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.h"

namespace ember::snapshot {

inline constexpr uint64_t kStateMagic = 0x504e53524542'4d45ull;  // "EMBERSNP" little-endian
inline constexpr uint32_t kArchX86_64 = 0x8664;
inline constexpr uint16_t kFormatMajor = 1;
inline constexpr uint16_t kFormatMinor = 0;
inline constexpr size_t kHeaderBytes = 24;
inline constexpr size_t kSectionHeaderBytes = 16;
inline constexpr size_t kCrcBytes = 8;
// A state file holds registers and device state, never guest memory: refuse anything larger.
inline constexpr size_t kMaxStateFileBytes = 64ull << 20;

// Section flags.
inline constexpr uint32_t kSectionMustUnderstand = 1u << 0;

struct Section {
    uint32_t tag = 0;
    uint32_t flags = 0;
    std::vector<uint8_t> payload;
    size_t file_offset = 0;  // Where its header starts; set by decode, for describe().
};

struct StateFile {
    uint32_t arch = kArchX86_64;
    uint16_t major = kFormatMajor;
    uint16_t minor = kFormatMinor;
    std::vector<Section> sections;
};

std::vector<uint8_t> encode_state_file(const StateFile& file);
// Checks magic, architecture, major version, size, CRC and section bounds, in that order.
Result<StateFile> decode_state_file(std::span<const uint8_t> bytes);

// Whole-file I/O: write_state_file syncs the file before returning.
Result<void> write_state_file(const std::string& path, std::span<const uint8_t> bytes);
Result<std::vector<uint8_t>> read_state_file(const std::string& path);

}  // namespace ember::snapshot
