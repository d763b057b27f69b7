// libFuzzer target: the uffd handshake's region list, as ember-uffd-handler receives it from a
// peer it does not trust. Whatever parses must satisfy the promises parse_uffd_regions_json makes
// (count bound, page alignment, no wrap, disjoint in memory and in the file) and survive a round
// trip through uffd_regions_json. tests/run.sh gives each input 2 s, so a slow path fails too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "vmm/snapshot/uffd_handshake.h"

namespace {

using ember::snapshot::UffdRegion;

void require(bool condition) {
    if (!condition) std::abort();
}

// True when [a, a + a_size) and [b, b + b_size) share a byte; sizes are non-zero and do not wrap.
bool overlap(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
    return a < b + b_size && b < a + a_size;
}

void check_promises(const std::vector<UffdRegion>& regions) {
    require(regions.size() <= ember::snapshot::kMaxUffdRegions);
    for (size_t i = 0; i < regions.size(); ++i) {
        const UffdRegion& r = regions[i];
        require(r.page_size != 0 && r.size != 0);
        require(r.size % r.page_size == 0 && r.base_host_virt_addr % r.page_size == 0);
        require(r.base_host_virt_addr + r.size > r.base_host_virt_addr);
        require(r.offset + r.size > r.offset);
        // Quadratic, but over at most kMaxUffdRegions regions.
        for (size_t j = 0; j < i; ++j) {
            const UffdRegion& q = regions[j];
            require(!overlap(r.base_host_virt_addr, r.size, q.base_host_virt_addr, q.size));
            require(!overlap(r.offset, r.size, q.offset, q.size));
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > ember::snapshot::kMaxUffdHandshakeBytes) return -1;  // The handler reads no more.
    std::string_view json(reinterpret_cast<const char*>(data), size);
    auto regions = ember::snapshot::parse_uffd_regions_json(json);
    if (!regions) return 0;
    check_promises(*regions);
    auto again =
        ember::snapshot::parse_uffd_regions_json(ember::snapshot::uffd_regions_json(*regions));
    require(again && *again == *regions);
    return 0;
}
