#include "vmm/snapshot/file_working_set.h"

#include <fmt/core.h>

#include <chrono>

#include "vmm/snapshot/page_populate.h"
#include "vmm/snapshot/working_set.h"

namespace ember::snapshot {

Result<FilePopulateStats> populate_file_working_set(const GuestMemory& memory,
                                                    std::span<const MemoryRegionState> regions,
                                                    const std::string& memory_path,
                                                    const std::string& record_path) {
    const auto t0 = std::chrono::steady_clock::now();
    if (regions.size() != memory.regions().size()) {
        return Error::invalid("working-set record", "the memory regions do not match the snapshot");
    }
    WorkingSet set = EMBER_TRY(read_working_set(record_path));
    {
        MemoryFileMapping file = EMBER_TRY(map_memory_file_readonly(memory_path));
        EMBER_TRY(check_working_set(set, {file.map.data(), file.map.size()},
                                    memory.host_page_bytes(), record_path));
    }
    const uint64_t page_size = set.page_size;
    // A run's key: its region and whether it is copied. Runs arrive in offset order, so one
    // cursor walks the (sorted) written list alongside.
    auto written = set.written.begin();
    auto key_of = [&](uint64_t offset) -> int64_t {
        while (written != set.written.end() && *written < offset) ++written;
        const bool copy = written != set.written.end() && *written == offset;
        for (size_t i = 0; i < regions.size(); ++i) {
            const MemoryRegionState& r = regions[i];
            if (offset >= r.file_offset && offset - r.file_offset < r.size_bytes) {
                return static_cast<int64_t>(2 * i + (copy ? 1 : 0));
            }
        }
        return -1;
    };
    FilePopulateStats stats;
    for (const PageRun& run : coalesce_page_runs(set.offsets, page_size, key_of)) {
        const MemoryRegionState& r = regions[static_cast<size_t>(run.key / 2)];
        const bool copy = run.key % 2 == 1;
        const uint64_t bytes = run.pages * page_size;
        std::span<uint8_t> host =
            EMBER_TRY(memory.slice(GuestAddress(r.gpa + (run.file_offset - r.file_offset)), bytes));
        Result<void> populated = populate_pages(host.data(), host.size(), page_size,
                                                copy ? Populate::kWrite : Populate::kRead);
        if (!populated) {
            return populated.error().within(
                "populate the working set",
                fmt::format("{} pages at memory-file offset {:#x}", run.pages, run.file_offset));
        }
        stats.pages += run.pages;
        if (copy) stats.written_pages += run.pages;
        ++stats.runs;
    }
    stats.ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return stats;
}

}  // namespace ember::snapshot
