// A recorded working set: the pages of a snapshot's memory file that a first invocation touched,
// which ember-uffd-handler installs in one batch on later loads (REAP's idea) before serving the
// rest lazily. The record is a small binary file beside the snapshot, versioned and tied to its
// memory file (size and a fingerprint of sampled pages), so a record from another snapshot is
// refused instead of silently prefetching the wrong pages. Version 2 also marks the pages whose
// first touch was a write, so that a File-backend clone can copy exactly those up front and only
// map the rest (a copy of a page the guest only reads would be memory the clone need not own).
// Threads: the handler's only thread; ember's vmm thread while it loads a snapshot.
//
// Format, little-endian:
//   "EMBERWS\0" | u32 version (2; 1 is read too) | u32 reserved (0) | u64 page_size
//   | u64 memory_file_bytes | u64 fingerprint | u64 page_count
//   | page_count x u64 (file offset, strictly increasing; v2: | kWrittenFlag if written)
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/mmap_region.h"
#include "vmm/base/result.h"
#include "vmm/base/unique_fd.h"

namespace ember::snapshot {

inline constexpr uint32_t kWorkingSetVersion = 2;
// Offsets are page-aligned, so bit 0 of an entry is free to say "written".
inline constexpr uint64_t kWrittenFlag = 1;
inline constexpr size_t kWorkingSetHeaderBytes = 48;
// The bound on a record: 8 Mi pages (32 GiB of 4 KiB pages), so the file is at most 64 MiB plus
// the header and the reader never holds more than that.
inline constexpr uint64_t kMaxWorkingSetPages = uint64_t{8} << 20;
inline constexpr uint64_t kMaxWorkingSetFileBytes =
    kWorkingSetHeaderBytes + kMaxWorkingSetPages * 8;
// The fingerprint hashes the first kFingerprintBytesPerPage bytes of at most
// kFingerprintSamplePages recorded pages, spread evenly over the record: at most 512 KiB, of
// pages the handler installs right after anyway, so checking it adds no I/O of its own.
inline constexpr size_t kFingerprintSamplePages = 128;
inline constexpr size_t kFingerprintBytesPerPage = 4096;

struct WorkingSet {
    uint64_t page_size = 4096;
    uint64_t memory_file_bytes = 0;
    uint64_t fingerprint = 0;
    std::vector<uint64_t> offsets;  // Sorted, distinct, page-aligned, inside the memory file.
    // The subset of `offsets` whose first touch was a write, sorted (empty from a v1 record).
    std::vector<uint64_t> written;
    bool operator==(const WorkingSet&) const = default;
};

// Hashes the sampled pages of `memory` (the whole memory file) named by `offsets` (sorted, each
// page inside `memory`) together with their offsets. Not a cryptographic check: it tells one
// memory file from another; a forged record can only make the handler install pages of the right
// file early, never wrong contents.
uint64_t working_set_fingerprint(std::span<const uint8_t> memory, std::span<const uint64_t> offsets,
                                 uint64_t page_size);

// The record of the pages at `offsets` (any order, repeats allowed) of `memory`, `written` (any
// order) marking those first touched by a write; a written page is part of the set even if
// `offsets` misses it.
Result<WorkingSet> make_working_set(std::span<const uint8_t> memory, std::vector<uint64_t> offsets,
                                    uint64_t page_size, std::vector<uint64_t> written = {});

std::vector<uint8_t> encode_working_set(const WorkingSet& set);
// Linear in the input. Reads versions 1 and 2. Refuses a wrong magic or version, a truncated or
// overlong file, more than kMaxWorkingSetPages pages, a page size that is not a power of two of
// at least 4 KiB, and offsets that are unsorted, repeated, not page-aligned (other than v2's flag)
// or outside the memory file it names.
Result<WorkingSet> decode_working_set(std::span<const uint8_t> bytes);
// Whether `set` was recorded from `memory` (the memory file's contents) with pages of
// `page_size` bytes (the handshake's): else "the working-set record ... was recorded from another
// memory file" or a page-size mismatch. `path` names the record in the message.
Result<void> check_working_set(const WorkingSet& set, std::span<const uint8_t> memory,
                               uint64_t page_size, const std::string& path);
// Opens a file the handler only reads, refusing anything but a regular file: O_NONBLOCK, so that
// a FIFO in its place fails here instead of blocking the open.
Result<UniqueFd> open_regular_file(const std::string& path, const char* what);

// A snapshot's memory file, mapped read-only (MAP_PRIVATE, nothing populated): what a record is
// checked against. The handler maps it when it starts, before it listens, so that a missing or
// wrong file fails the handler before ember connects.
struct MemoryFileMapping {
    std::string path;
    MmapRegion map;
};
Result<MemoryFileMapping> map_memory_file_readonly(const std::string& path);

// Reads a record from a regular file of at most kMaxWorkingSetFileBytes (no blocking open).
Result<WorkingSet> read_working_set(const std::string& path);
// Writes the record atomically: a temporary file beside `path`, fsync'd, then renamed over it.
Result<void> write_working_set(const std::string& path, const WorkingSet& set);

// A run of pages adjacent in the memory file that one ioctl installs.
struct PageRun {
    uint64_t file_offset = 0;
    uint64_t pages = 0;
    int64_t key = 0;
    bool operator==(const PageRun&) const = default;
};
// Coalesces sorted page offsets into runs of adjacent pages with the same key. `key_of` gives a
// page's key (for the handler: its region and whether it is all zero, so that a run never crosses
// a region and is either copied or zero-filled whole); a negative key leaves the page out.
std::vector<PageRun> coalesce_page_runs(std::span<const uint64_t> offsets, uint64_t page_size,
                                        const std::function<int64_t(uint64_t)>& key_of);

}  // namespace ember::snapshot
