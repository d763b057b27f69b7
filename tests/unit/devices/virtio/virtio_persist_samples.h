// Sample virtio device snapshots with a non-default value in every field (and every optional
// member present or absent), for the codec tests.
#pragma once

#include <cstdint>

#include "devices/virtio/block/block_persist.h"
#include "devices/virtio/net/net_persist.h"

namespace ember::snapshot::testing {

inline TokenBucketConfig bucket(uint64_t seed) {
    return {.size = seed, .one_time_burst = seed * 2, .refill_time_ms = seed + 7};
}

inline TokenBucketState bucket_state(uint64_t seed) {
    return {.budget = seed, .one_time_burst = seed / 2, .elapsed_ns = seed * 1000 + 1};
}

inline VirtioSlotState sample_slot(uint32_t queues) {
    VirtioSlotState s;
    s.mmio_base = 0xd000'0000 + 0x1000 * queues;
    s.gsi = 5 + queues;
    s.transport = {.status = 0x0f,
                   .device_features_sel = 1,
                   .driver_features_sel = 1,
                   .queue_sel = queues - 1,
                   .driver_features = 0x1'3000'0046,
                   .interrupt_status = 1,
                   .activate_failed = 1};
    s.transport.device.acked_features = 0x1'3000'0044;
    s.transport.device.config_generation = 9;
    s.transport.device.activated = 1;
    s.transport.device.needs_reset = 1;
    for (uint32_t i = 0; i < queues; ++i) {
        uint64_t base = 0x10'0000 + 0x1'0000 * i;
        // `reserved` is padding the codec does not store: it stays 0.
        s.transport.device.queues.push_back({.size = static_cast<uint16_t>(128 << i),
                                             .next_avail = static_cast<uint16_t>(65000 + i),
                                             .next_used = static_cast<uint16_t>(64990 + i),
                                             .num_added = static_cast<uint16_t>(3 + i),
                                             .ready = 1,
                                             .event_idx = 1,
                                             .indirect = 1,
                                             .desc_table = base,
                                             .avail_ring = base + 0x1000,
                                             .used_ring = base + 0x2000});
    }
    return s;
}

inline BlockSnapshot sample_block(bool with_optionals) {
    BlockSnapshot s;
    s.drive = {.drive_id = "rootfs",
               .path_on_host = "/srv/vm/rootfs.ext4",
               .is_root_device = true,
               .is_read_only = true,
               .cache_type = CacheType::kWriteback,
               .io_engine = IoEngine::kAsync};
    if (with_optionals) {
        s.drive.partuuid = "0eaa91a0-01";
        s.drive.rate_limiter = RateLimiterConfig{.bandwidth = bucket(1000), .ops = bucket(50)};
    }
    s.slot = sample_slot(1);
    s.device = {.device_features = 0x1'3000'0064, .disk_size_bytes = 1ull << 30};
    if (with_optionals) {
        s.device.rate_limiter = {.bandwidth = bucket_state(400), .ops = bucket_state(30)};
    }
    return s;
}

inline NetSnapshot sample_net(bool with_optionals) {
    NetSnapshot s;
    s.net = {.iface_id = "eth0", .host_dev_name = "tap0"};
    if (with_optionals) {
        s.net.guest_mac = "06:00:ac:10:00:02";
        s.net.mtu = 9000;
        s.net.rx_rate_limiter = RateLimiterConfig{.bandwidth = bucket(300)};
        s.net.tx_rate_limiter = RateLimiterConfig{.ops = bucket(40)};
    }
    s.slot = sample_slot(2);
    s.device = {.device_features = 0x1'0000'4c83,
                .mac = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02},
                .mtu = 1500,
                .tap_offload = 0x1f};
    if (with_optionals) {
        s.device.rx_rate_limiter = {.bandwidth = bucket_state(100)};
        s.device.tx_rate_limiter = {.ops = bucket_state(8)};
    }
    return s;
}

}  // namespace ember::snapshot::testing
