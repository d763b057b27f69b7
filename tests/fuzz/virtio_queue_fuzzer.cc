// libFuzzer target: a split virtqueue over guest memory holding arbitrary bytes. The queue and
// descriptor walker must never read outside guest RAM, loop, or crash, whatever the rings and
// descriptors say; accepted chains are also run through the virtio-blk request parser.
// Input: byte 0 = log2(queue size) and feature flags, the rest is copied to guest RAM at 0.
// Run: virtio_queue_fuzzer -max_len=4096 -max_total_time=60 tests/fuzz/corpus/virtio_queue
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "devices/virtio/block/request.h"
#include "devices/virtio/queue.h"

namespace {

constexpr uint64_t kRamBytes = 64 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ember;
    if (size < 1) return 0;
    static const std::array<GuestRange, 1> kRanges{GuestRange{GuestAddress(0), kRamBytes}};
    auto memory = GuestMemory::anonymous(kRanges);
    if (!memory) std::abort();
    const size_t copied = std::min<size_t>(size - 1, kRamBytes);
    auto ram = memory->slice(GuestAddress(0), kRamBytes);
    std::memcpy(ram->data(), data + 1, copied);

    const uint8_t control = data[0];
    const auto queue_size = static_cast<uint16_t>(1u << (control & 0x7));  // 1..128
    virtio::Queue queue(256);
    queue.set_size(queue_size);
    // The rings sit at the start of the input (overlapping for large queues, as a hostile driver
    // may place them) so that short inputs reach the descriptor walker.
    queue.set_avail_ring(GuestAddress(0));
    queue.set_desc_table(GuestAddress(0x40));
    queue.set_used_ring(GuestAddress(0xc000));
    queue.set_ready(true);
    queue.set_event_idx(control & 0x8);
    queue.set_indirect(control & 0x10);
    if (!queue.validate(*memory)) std::abort();

    const uint8_t* ram_begin = ram->data();
    const uint8_t* ram_end = ram_begin + kRamBytes;
    for (int i = 0; i < 2 * queue_size + 1; ++i) {
        auto popped = queue.pop(*memory);
        if (!popped || !*popped) break;
        virtio::AvailableChain& avail = **popped;
        uint32_t used_len = 0;
        if (avail.chain) {
            if (avail.chain->descriptors().size() > queue_size) std::abort();
            for (const virtio::Descriptor& d : avail.chain->descriptors()) {
                if (d.host.size() != d.len) std::abort();
                if (d.len && (d.host.data() < ram_begin || d.host.data() + d.len > ram_end)) {
                    std::abort();
                }
            }
            uint8_t sink[64];
            virtio::ChainReader reader(avail.chain->readable());
            while (reader.read(sink) == sizeof(sink)) {
            }
            auto request = virtio::parse_block_request(*avail.chain);
            if (request) {
                *request->status = 0;
                used_len = 1;
            }
        }
        (void)queue.add_used(*memory, avail.head, used_len);
    }
    (void)queue.needs_notification(*memory);
    return 0;
}
