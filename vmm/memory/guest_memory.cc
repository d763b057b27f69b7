#include "vmm/memory/guest_memory.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "vmm/memory/huge_page_pool.h"

namespace ember {
namespace {
constexpr uint64_t kDirtyPageBytes = 4096;

size_t bitmap_words(uint64_t region_bytes) {
    return static_cast<size_t>((region_bytes / kDirtyPageBytes + 63) / 64);
}

// Guest RAM starts on a 2 MiB boundary so that transparent huge pages can back it (see
// MmapRegion::anonymous_aligned).
constexpr size_t kHugePageBytes = kHugePage2MBytes;

Result<MmapRegion> map_range(const GuestRange& r, PageBacking backing) {
    switch (backing) {
        case PageBacking::kHugetlb2M: return MmapRegion::anonymous_huge_2m(r.size_bytes);
        case PageBacking::kTransparentHuge: {
            MmapRegion mapping =
                EMBER_TRY(MmapRegion::anonymous_aligned(r.size_bytes, kHugePageBytes));
            EMBER_TRY(mapping.advise(MADV_HUGEPAGE));
            return mapping;
        }
        case PageBacking::kSmall: break;
    }
    return MmapRegion::anonymous_aligned(r.size_bytes, kHugePageBytes);
}

}  // namespace

Result<GuestMemory> GuestMemory::anonymous(std::span<const GuestRange> ranges,
                                           PageBacking backing) {
    uint64_t huge_pages = 0;
    if (backing == PageBacking::kHugetlb2M) {
        for (const GuestRange& r : ranges) {
            // KVM maps a 2 MiB guest page with one entry only when gpa and hva agree mod 2 MiB.
            if (r.start.value() % kHugePageBytes != 0 || r.size_bytes % kHugePageBytes != 0) {
                return Error::invalid("guest memory",
                                      fmt::format("region at {:#x} size {:#x} is not a whole "
                                                  "number of 2 MiB huge pages",
                                                  r.start.value(), r.size_bytes));
            }
            huge_pages += r.size_bytes / kHugePageBytes;
        }
    }
    std::vector<Region> regions;
    regions.reserve(ranges.size());
    for (const GuestRange& r : ranges) {
        Result<MmapRegion> mapping = map_range(r, backing);
        if (!mapping && backing == PageBacking::kHugetlb2M) {
            // Give back what the earlier regions reserved, so the pool's counts are the host's.
            regions.clear();
            return Error(mapping.error().code(), "guest memory: 2M huge pages",
                         huge_page_shortage(huge_pages, HugePagePool::read()));
        }
        if (!mapping) return mapping.error();
        regions.push_back(Region{r.start, std::move(*mapping)});
    }
    return from_regions(std::move(regions), backing);
}

Result<GuestMemory> GuestMemory::from_regions(std::vector<Region> regions, PageBacking backing) {
    const uint64_t page = backing == PageBacking::kHugetlb2M
                              ? kHugePageBytes
                              : static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    std::sort(regions.begin(), regions.end(),
              [](const Region& a, const Region& b) { return a.start < b.start; });
    for (size_t i = 0; i < regions.size(); ++i) {
        const Region& r = regions[i];
        if (r.start.value() % page != 0 || r.size() % page != 0 || r.size() == 0) {
            return Error::invalid("guest memory", fmt::format("region at {:#x} size {:#x} is not "
                                                              "page-aligned",
                                                              r.start.value(), r.size()));
        }
        if (!r.start.checked_add(r.size())) {
            return Error::invalid("guest memory", "region wraps the address space");
        }
        if (i > 0 && regions[i - 1].end() > r.start) {
            return Error::invalid("guest memory",
                                  fmt::format("regions overlap at {:#x}", r.start.value()));
        }
    }
    GuestMemory memory(std::move(regions));
    memory.backing_ = backing;
    return memory;
}

GuestMemory::GuestMemory(std::vector<Region> regions) : regions_(std::move(regions)) {
    for (const Region& r : regions_) {
        dirty_.push_back(std::make_unique<std::atomic<uint64_t>[]>(bitmap_words(r.size())));
    }
}

std::optional<GuestMemory::Location> GuestMemory::locate(GuestAddress gpa, uint64_t len) const {
    // Last region starting at or below gpa.
    auto it = std::upper_bound(regions_.begin(), regions_.end(), gpa,
                               [](GuestAddress a, const Region& r) { return a < r.start; });
    if (it == regions_.begin()) return std::nullopt;
    const size_t index = static_cast<size_t>(std::prev(it) - regions_.begin());
    const Region& r = regions_[index];
    const uint64_t offset = gpa - r.start;
    if (offset >= r.size() || len > r.size() - offset) return std::nullopt;
    return Location{index, offset};
}

void GuestMemory::mark_dirty(GuestAddress gpa, uint64_t len) const {
    std::optional<Location> at = locate(gpa, len);
    if (len == 0 || !at) return;
    std::atomic<uint64_t>* words = dirty_[at->region].get();
    const uint64_t last = (at->offset + len - 1) / kDirtyPageBytes;
    for (uint64_t page = at->offset / kDirtyPageBytes; page <= last; ++page) {
        words[page / 64].fetch_or(uint64_t{1} << (page % 64), std::memory_order_relaxed);
    }
}

std::vector<uint64_t> GuestMemory::take_dirty(size_t index) const {
    std::vector<uint64_t> bitmap(bitmap_words(regions_.at(index).size()));
    std::atomic<uint64_t>* words = dirty_[index].get();
    for (size_t i = 0; i < bitmap.size(); ++i) {
        bitmap[i] = words[i].exchange(0, std::memory_order_relaxed);
    }
    return bitmap;
}

Result<std::span<uint8_t>> GuestMemory::slice(GuestAddress gpa, uint64_t len) const {
    if (std::optional<Location> at = locate(gpa, len)) {
        return std::span<uint8_t>(regions_[at->region].mapping.data() + at->offset, len);
    }
    return Error::from_errno(
        EFAULT, "guest memory",
        fmt::format("range [{:#x}, +{:#x}) is outside guest RAM", gpa.value(), len));
}

Result<void> GuestMemory::read(GuestAddress gpa, std::span<uint8_t> out) const {
    auto src = EMBER_TRY(slice(gpa, out.size()));
    if (!out.empty()) std::memcpy(out.data(), src.data(), out.size());  // memcpy of null is UB.
    return ok();
}

Result<void> GuestMemory::write(GuestAddress gpa, std::span<const uint8_t> in) const {
    auto dst = EMBER_TRY(slice(gpa, in.size()));
    if (!in.empty()) std::memcpy(dst.data(), in.data(), in.size());
    mark_dirty(gpa, in.size());
    return ok();
}

uint64_t GuestMemory::host_page_bytes() const {
    if (backing_ == PageBacking::kHugetlb2M) return kHugePageBytes;
    return static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

uint64_t GuestMemory::size_bytes() const {
    uint64_t total = 0;
    for (const Region& r : regions_) total += r.size();
    return total;
}

}  // namespace ember
