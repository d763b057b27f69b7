// TokenAuthority: MMDS v2 session tokens (PUT /latest/api/token). Firecracker seals the expiry
// with AES-GCM so it keeps no state; Ember has no crypto library, so a token is 36 random bytes
// (getrandom), base64 (48 characters, the length of Firecracker's tokens), remembered with its
// expiry in a fixed table. The table holds kMaxTokens: a guest mints tokens at will, so the bound
// keeps its memory fixed (~64 KiB); when full the oldest token is forgotten, which only costs
// that guest a new PUT, as a key rotation does in Firecracker. Tokens are compared in constant
// time. Nothing is persisted: tokens die with a snapshot restore, as Firecracker's do.
// Thread: the vmm thread (the MMDS service that owns it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "vmm/base/clock.h"
#include "vmm/base/result.h"

namespace ember::mmds {

class TokenAuthority {
public:
    // Firecracker's src/vmm/src/mmds/token.rs bounds and length limit.
    static constexpr uint32_t kMinTtlSeconds = 1;
    static constexpr uint32_t kMaxTtlSeconds = 21600;
    static constexpr size_t kTokenBytes = 36;  // IV 12 + payload 8 + tag 16 in Firecracker.
    static constexpr size_t kTokenLengthLimit = 70;
    static constexpr size_t kMaxTokens = 1024;

    // `clock` must outlive the authority; null means CLOCK_MONOTONIC.
    explicit TokenAuthority(const Clock* clock = nullptr);

    // A new token valid for `ttl_seconds`; errors with Firecracker's text when the TTL is out of
    // bounds, or when the kernel has no randomness to give.
    Result<std::string> generate(uint32_t ttl_seconds);
    // Whether `token` was issued here and has not expired.
    bool is_valid(std::string_view token) const;

private:
    struct Entry {
        std::array<uint8_t, kTokenBytes> bytes{};
        uint64_t expiry_ms = 0;
        bool used = false;
    };

    const Clock* clock_;
    std::unique_ptr<std::array<Entry, kMaxTokens>> entries_;
    size_t next_ = 0;  // The slot the next token takes: the oldest once the table is full.
};

// Standard base64 with padding (RFC 4648 §4), and its strict inverse: false on any character
// outside the alphabet, bad padding or non-zero trailing bits.
std::string base64_encode(const uint8_t* data, size_t size);
bool base64_decode(std::string_view text, uint8_t* out, size_t out_size, size_t& written);

}  // namespace ember::mmds
