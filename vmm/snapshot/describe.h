// describe(): a human-readable listing of a state file (ember --describe-snapshot and
// ember-snapshot describe): format version, every section with its offset and size, and decoded
// summaries of the machine, vCPUs, memory regions and devices.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vmm/base/result.h"

namespace ember::snapshot {

// Errors only when the container itself is unreadable (magic, version, size, CRC); a section that
// fails to decode, or a file that load() would refuse, is reported inside the text.
Result<std::string> describe(std::span<const uint8_t> bytes);
Result<std::string> describe_file(const std::string& path);

// For main(): prints describe_file(path) to stdout, or the error to stderr. Returns an exit code.
int describe_snapshot_main(const std::string& path);

}  // namespace ember::snapshot
