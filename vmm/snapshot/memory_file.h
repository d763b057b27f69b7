// Guest memory files: a full snapshot (every region back to back, all-zero pages left as holes), a
// diff snapshot (only dirty pages, at the offsets they have in the full file, the rest holes),
// merging a diff onto its base, and mapping a memory file MAP_PRIVATE for restore.
// Thread: the vmm thread, with every vCPU paused.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/snapshot/machine_state.h"

namespace ember::snapshot {

inline constexpr uint64_t kPageSize = 4096;

// Host bytes of one guest RAM region.
struct MemoryChunk {
    uint64_t gpa = 0;
    std::span<const uint8_t> bytes;  // Page-aligned length.
};
std::vector<MemoryChunk> chunks_of(const GuestMemory& memory);

struct MemoryFileLayout {
    std::vector<MemoryRegionState> regions;  // Where each chunk went: the state file's table.
    uint64_t file_size_bytes = 0;
    uint64_t pages_written = 0;
};

// Writes every chunk, back to back from offset 0, into a new (truncated) file. Pages that are all
// zero are skipped, so they stay holes and cost no disk space.
Result<MemoryFileLayout> write_full_memory(const std::string& path,
                                           std::span<const MemoryChunk> chunks);

// Writes only the pages whose bit is set, in KVM_GET_DIRTY_LOG's layout (page i is bit i % 64 of
// word i / 64), one bitmap per chunk. Dirty pages are written even when all zero: in a diff a hole
// means "unchanged since the base", so a page the guest zeroed must be data.
Result<MemoryFileLayout> write_diff_memory(const std::string& path,
                                           std::span<const MemoryChunk> chunks,
                                           std::span<const std::span<const uint64_t>> dirty);

// The dirty bitmap to use without KVM dirty logging (track_dirty_pages off): every page of
// private anonymous memory, in RAM or swapped out, from /proc/self/pagemap. For memory booted
// anonymous that is every page touched, as Firecracker's mincore(2) gives; for a memory file
// restored with the File backend it is exactly the pages written since the load (their private
// copies), so a clone's diff holds what its guest changed, not what it read. Where pagemap cannot
// be read (a jail without /proc) it is mincore(2)'s resident pages, a superset.
Result<std::vector<uint64_t>> resident_pages(std::span<const uint8_t> region);

struct MergeStats {
    uint64_t extents = 0;
    uint64_t bytes_copied = 0;
};
// What a diff without any hole means. In a diff a hole is "unchanged since the base", so a diff
// copied without its holes (cat, scp, cp --sparse=never) turns every page it did not write into
// zeros that would overwrite the base.
enum class DenseDiff : uint8_t {
    kRefuse,  // Refused if an all-zero page of it lies over a base page holding data.
    kAccept,  // Every page of it was written (every page was dirty): copy it all.
};
// Copies every data extent of `diff_path` (found with SEEK_DATA/SEEK_HOLE) onto `base_path` at the
// same offset, as Firecracker's rebase-snap does, never touching the base's other pages. Both must
// be regular files of the same size, a whole number of pages (the same memory layout;
// rebase-snap would instead grow the base to a longer diff). A diff without holes is checked
// first, as `dense` says, so a refusal leaves the base untouched.
Result<MergeStats> merge_diff(const std::string& base_path, const std::string& diff_path,
                              DenseDiff dense = DenseDiff::kRefuse);

// Maps each region of the memory file MAP_PRIVATE: pages load on first touch from the page cache
// and guest writes go to private copies, so the file is never written.
Result<GuestMemory> map_memory_file(const std::string& path,
                                    std::span<const MemoryRegionState> regions);

}  // namespace ember::snapshot
