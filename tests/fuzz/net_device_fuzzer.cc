// libFuzzer target: virtio-net over guest memory holding arbitrary bytes, as a hostile driver
// leaves it, with frames of arbitrary sizes waiting on the tap (a socketpair). RX, direct reads
// into held chains and the copy path, TX, a quiesce as before a snapshot and a reset must never
// touch memory outside guest RAM, hold more chains than they may, or crash.
// Input: byte 0 = feature flags, bytes 1-6 = three frame sizes (16-bit), the rest is copied to
// guest RAM at 0, where both queues' rings and descriptor tables sit.
// Run: net_device_fuzzer -max_len=8192 -max_total_time=60
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "devices/virtio/net/net_device.h"
#include "devices/virtio/net/virtio_net_spec.h"
#include "tests/fakes/fake_irq_line.h"

namespace {

constexpr uint64_t kRamBytes = 1 << 20;
constexpr uint16_t kQueueSize = 16;

void configure(ember::virtio::Queue& queue, uint64_t base) {
    queue.set_size(kQueueSize);
    queue.set_desc_table(ember::GuestAddress(base));
    queue.set_avail_ring(ember::GuestAddress(base + 0x100));
    queue.set_used_ring(ember::GuestAddress(base + 0x200));
    queue.set_ready(true);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ember;
    using virtio::NetDevice;
    if (size < 7) return 0;
    static const std::array<GuestRange, 1> kRanges{GuestRange{GuestAddress(0), kRamBytes}};
    auto memory = GuestMemory::anonymous(kRanges);
    if (!memory) std::abort();
    auto ram = memory->slice(GuestAddress(0), kRamBytes);
    std::memcpy(ram->data(), data + 7, std::min<size_t>(size - 7, kRamBytes));

    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
        std::abort();
    }
    UniqueFd peer(fds[1]);
    auto dev =
        NetDevice::create({.iface_id = "eth0"}, virtio::Tap::from_fd(UniqueFd(fds[0]), "fuzz-tap"));
    if (!dev) std::abort();
    configure((*dev)->queues()[NetDevice::kRxQueue], 0);
    configure((*dev)->queues()[NetDevice::kTxQueue], 0x400);
    const uint8_t control = data[0];
    uint64_t features = (*dev)->device_features();
    if (control & 1) features &= ~virtio::feature_bit(virtio::kNetFMrgRxbuf);
    if (control & 2) features &= ~virtio::feature_bit(virtio::kFeatureEventIdx);
    (*dev)->set_acked_features(features);
    testing::FakeIrqLine irq;
    virtio::VirtioInterrupt interrupt(irq);
    if (!(*dev)->activate(*memory, interrupt)) return 0;

    std::vector<uint8_t> frame(NetDevice::kMaxFrameBytes, 0x5a);
    for (int i = 0; i < 3; ++i) {
        const size_t len = std::min<size_t>(
            frame.size(), static_cast<size_t>(data[1 + 2 * i] | data[2 + 2 * i] << 8));
        (void)::send(peer.get(), frame.data(), len, 0);
    }
    (*dev)->process_tap_rx();
    if ((*dev)->rx_chains_held() > kQueueSize) std::abort();
    (*dev)->process_queue(NetDevice::kTxQueue);
    (*dev)->quiesce();
    if ((*dev)->rx_chains_held() != 0) std::abort();
    (*dev)->process_queue(NetDevice::kRxQueue);
    (*dev)->reset();
    return 0;
}
