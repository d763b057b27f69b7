// Constants from the virtio 1.2 specification that the split virtqueue and the transports use.
// Device-specific layouts (virtio_blk_*, virtio_net_*) come from the kernel's uapi headers.
#pragma once

#include <cstdint>

namespace ember::virtio {

// virtio 1.2 §2.1: device status bits.
inline constexpr uint32_t kStatusAcknowledge = 1;
inline constexpr uint32_t kStatusDriver = 2;
inline constexpr uint32_t kStatusDriverOk = 4;
inline constexpr uint32_t kStatusFeaturesOk = 8;
inline constexpr uint32_t kStatusDeviceNeedsReset = 64;
inline constexpr uint32_t kStatusFailed = 128;

// virtio 1.2 §6: reserved feature bits.
inline constexpr unsigned kFeatureIndirectDesc = 28;
inline constexpr unsigned kFeatureEventIdx = 29;
inline constexpr unsigned kFeatureVersion1 = 32;

inline constexpr uint64_t feature_bit(unsigned bit) { return uint64_t{1} << bit; }

// virtio 1.2 §2.7.5: split virtqueue descriptor flags.
inline constexpr uint16_t kDescFlagNext = 1;
inline constexpr uint16_t kDescFlagWrite = 2;
inline constexpr uint16_t kDescFlagIndirect = 4;
inline constexpr uint64_t kDescriptorSize = 16;

// virtio 1.2 §2.7.6 and §2.7.8: ring flags.
inline constexpr uint16_t kAvailFlagNoInterrupt = 1;
inline constexpr uint16_t kUsedFlagNoNotify = 1;

// Interrupt status bits (virtio-mmio InterruptStatus, virtio 1.2 §4.2.2).
inline constexpr uint32_t kInterruptUsedBuffer = 1;
inline constexpr uint32_t kInterruptConfigChange = 2;

// Device IDs (virtio 1.2 §5).
inline constexpr uint32_t kDeviceIdNet = 1;
inline constexpr uint32_t kDeviceIdBlock = 2;

// The largest split queue the spec allows (§2.7: Queue Size up to 32768).
inline constexpr uint16_t kMaxQueueSizeSpec = 32768;

}  // namespace ember::virtio
