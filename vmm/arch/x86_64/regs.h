// Architectural constants for the boot register state (Intel SDM vol. 3): control register and
// EFER bits, and the MSRs Ember zeroes at boot.
#pragma once

#include <cstdint>

namespace ember::x86 {

inline constexpr uint64_t kCr0Pe = 1ULL << 0;
inline constexpr uint64_t kCr0Nw = 1ULL << 29;
inline constexpr uint64_t kCr0Cd = 1ULL << 30;
inline constexpr uint64_t kCr0Pg = 1ULL << 31;
inline constexpr uint64_t kCr4Pae = 1ULL << 5;
inline constexpr uint64_t kEferLme = 1ULL << 8;
inline constexpr uint64_t kEferLma = 1ULL << 10;
inline constexpr uint64_t kRflagsReserved = 1ULL << 1;  // Bit 1 always reads as 1.

inline constexpr uint16_t kFpuControlWord = 0x37f;  // FINIT's default.
inline constexpr uint32_t kMxcsrDefault = 0x1f80;   // All SSE exceptions masked.

inline constexpr uint32_t kMsrIa32Tsc = 0x10;
inline constexpr uint32_t kMsrIa32SysenterCs = 0x174;
inline constexpr uint32_t kMsrIa32SysenterEsp = 0x175;
inline constexpr uint32_t kMsrIa32SysenterEip = 0x176;
inline constexpr uint32_t kMsrIa32MiscEnable = 0x1a0;
inline constexpr uint32_t kMsrMtrrDefType = 0x2ff;
inline constexpr uint32_t kMsrStar = 0xc0000081;
inline constexpr uint32_t kMsrLstar = 0xc0000082;
inline constexpr uint32_t kMsrCstar = 0xc0000083;
inline constexpr uint32_t kMsrSyscallMask = 0xc0000084;
inline constexpr uint32_t kMsrKernelGsBase = 0xc0000102;

inline constexpr uint64_t kMiscEnableFastString = 1;
// MTRRs enabled, default type write-back (as Firecracker), so guest RAM is cacheable.
inline constexpr uint64_t kMtrrEnableWriteBack = (1ULL << 11) | 6;

}  // namespace ember::x86
