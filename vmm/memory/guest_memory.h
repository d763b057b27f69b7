// GuestMemory: guest RAM as a set of host mappings, and the only place that turns guest physical
// addresses into host pointers. Every lookup is bounds-checked against one region: a range that
// straddles regions or leaves RAM is refused, whatever the guest wrote.
// Thread: shared by the vmm and vCPU threads; the region table is immutable after construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "vmm/base/mmap_region.h"
#include "vmm/base/result.h"
#include "vmm/memory/guest_address.h"

namespace ember {

// What backs anonymous guest RAM (MachineConfig::huge_pages): 4 KiB pages; the same with
// madvise(MADV_HUGEPAGE) so that transparent huge pages may back it; or 2 MiB hugetlb pages
// reserved from the host's pool.
enum class PageBacking { kSmall, kTransparentHuge, kHugetlb2M };

struct GuestRange {
    GuestAddress start;
    uint64_t size_bytes;
};

class GuestMemory {
public:
    struct Region {
        GuestAddress start;
        MmapRegion mapping;

        uint64_t size() const { return mapping.size(); }
        GuestAddress end() const { return start + size(); }
        bool contains(GuestAddress gpa) const { return gpa >= start && gpa < end(); }
    };

    GuestMemory() = default;
    GuestMemory(GuestMemory&&) = default;
    GuestMemory& operator=(GuestMemory&&) = default;

    // Anonymous private memory for each range; ranges must be page-aligned and disjoint (2 MiB
    // aligned for kHugetlb2M). With kHugetlb2M every page is reserved here, so a host pool too
    // small is this error, which says how many pages are missing.
    static Result<GuestMemory> anonymous(std::span<const GuestRange> ranges,
                                         PageBacking backing = PageBacking::kSmall);
    // Takes ownership of ready mappings (e.g. a snapshot memory file mapped MAP_PRIVATE), whose
    // pages are `backing`'s (kHugetlb2M for a file on hugetlbfs).
    static Result<GuestMemory> from_regions(std::vector<Region> regions,
                                            PageBacking backing = PageBacking::kSmall);

    // Host bytes for [gpa, gpa + len), or an error if any byte is outside a single region.
    Result<std::span<uint8_t>> slice(GuestAddress gpa, uint64_t len) const;
    bool contains_range(GuestAddress gpa, uint64_t len) const {
        return slice(gpa, len).has_value();
    }

    Result<void> read(GuestAddress gpa, std::span<uint8_t> out) const;
    Result<void> write(GuestAddress gpa, std::span<const uint8_t> in) const;

    template <typename T>
    Result<T> read_obj(GuestAddress gpa) const {
        static_assert(std::is_trivially_copyable_v<T>);
        T value{};
        EMBER_TRY(read(gpa, {reinterpret_cast<uint8_t*>(&value), sizeof(T)}));
        return value;
    }
    template <typename T>
    Result<void> write_obj(GuestAddress gpa, const T& value) const {
        static_assert(std::is_trivially_copyable_v<T>);
        return write(gpa, {reinterpret_cast<const uint8_t*>(&value), sizeof(T)});
    }

    const std::vector<Region>& regions() const { return regions_; }
    // Total RAM in bytes.
    uint64_t size_bytes() const;
    PageBacking backing() const { return backing_; }
    // The host page size behind every region: the unit a userfaultfd must fill it in.
    uint64_t host_page_bytes() const;

    // Pages the VMM itself wrote (device DMA: used rings, block reads, received frames), which
    // KVM's dirty log does not see, for diff snapshots. write() marks its range; code that writes
    // through a slice() marks it with mark_dirty(). A range outside RAM is ignored.
    void mark_dirty(GuestAddress gpa, uint64_t len) const;
    // Region `index`'s bitmap (page i is bit i % 64 of word i / 64, as KVM_GET_DIRTY_LOG), and
    // clears it.
    std::vector<uint64_t> take_dirty(size_t index) const;

private:
    struct Location {
        size_t region = 0;
        uint64_t offset = 0;
    };
    // The region holding all of [gpa, gpa + len), and gpa's offset in it; none if no single
    // region does. The one bounds check behind slice() and mark_dirty().
    std::optional<Location> locate(GuestAddress gpa, uint64_t len) const;

    using DirtyBitmap = std::unique_ptr<std::atomic<uint64_t>[]>;
    explicit GuestMemory(std::vector<Region> regions);
    std::vector<Region> regions_;                // Sorted by start address.
    PageBacking backing_ = PageBacking::kSmall;  // kSmall for file mappings off hugetlbfs.
    std::vector<DirtyBitmap> dirty_;  // One per region; the atomics change through const methods.
};

}  // namespace ember
