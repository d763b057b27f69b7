// Whether this test binary runs under AddressSanitizer (GCC defines __SANITIZE_ADDRESS__, clang
// answers __has_feature). A few tests measure what only the plain build has: glibc's allocator
// under the real seccomp filters, or a process with no file descriptor left (the sanitizers'
// own checks then fail: UBSan's vptr check tests memory through a pipe it can no longer open).
#pragma once

namespace ember::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kUnderSanitizer = true;
#else
inline constexpr bool kUnderSanitizer = false;
#endif
#else
inline constexpr bool kUnderSanitizer = false;
#endif

}  // namespace ember::testing
