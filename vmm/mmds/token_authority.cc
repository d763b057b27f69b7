#include "vmm/mmds/token_authority.h"

#include <sys/random.h>

#include <fmt/core.h>
#include <cerrno>

namespace ember::mmds {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

Result<void> fill_random(uint8_t* out, size_t size) {
    size_t done = 0;
    while (done < size) {
        const ssize_t n = getrandom(out + done, size - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno("getrandom");
        }
        done += static_cast<size_t>(n);
    }
    return ok();
}

}  // namespace

std::string base64_encode(const uint8_t* data, size_t size) {
    std::string out;
    out.reserve((size + 2) / 3 * 4);
    for (size_t i = 0; i < size; i += 3) {
        const uint32_t b0 = data[i];
        const uint32_t b1 = i + 1 < size ? data[i + 1] : 0;
        const uint32_t b2 = i + 2 < size ? data[i + 2] : 0;
        const uint32_t n = (b0 << 16) | (b1 << 8) | b2;
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += i + 1 < size ? kAlphabet[(n >> 6) & 63] : '=';
        out += i + 2 < size ? kAlphabet[n & 63] : '=';
    }
    return out;
}

bool base64_decode(std::string_view text, uint8_t* out, size_t out_size, size_t& written) {
    written = 0;
    if (text.size() % 4 != 0) return false;
    for (size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        int v[4];
        size_t pad = 0;
        for (size_t k = 0; k < 4; ++k) {
            const char c = text[i + k];
            if (c == '=' && last && k >= 2) {
                v[k] = 0;
                ++pad;
                continue;
            }
            if (pad) return false;  // A data character after padding.
            v[k] = base64_value(c);
            if (v[k] < 0) return false;
        }
        const uint32_t n = (static_cast<uint32_t>(v[0]) << 18) |
                           (static_cast<uint32_t>(v[1]) << 12) |
                           (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
        // Canonical encodings only: the bits padding drops must be zero.
        if ((pad == 1 && (n & 0xff)) || (pad == 2 && (n & 0xffff))) return false;
        const size_t bytes = 3 - pad;
        if (written + bytes > out_size) return false;
        for (size_t k = 0; k < bytes; ++k) out[written++] = static_cast<uint8_t>(n >> (16 - 8 * k));
    }
    return true;
}

TokenAuthority::TokenAuthority(const Clock* clock)
    : clock_(clock ? clock : &SteadyClock::instance()),
      entries_(std::make_unique<std::array<Entry, kMaxTokens>>()) {}

Result<std::string> TokenAuthority::generate(uint32_t ttl_seconds) {
    if (ttl_seconds < kMinTtlSeconds || ttl_seconds > kMaxTtlSeconds) {
        // token.rs MmdsTokenError::InvalidTtlValue, shown to the guest as is.
        return Error::invalid("mmds token",
                              fmt::format("Invalid time to live value provided for token: {}. "
                                          "Please provide a value between {} and {}.",
                                          ttl_seconds, kMinTtlSeconds, kMaxTtlSeconds));
    }
    Entry entry;
    EMBER_TRY(fill_random(entry.bytes.data(), entry.bytes.size()));
    entry.expiry_ms = clock_->now_ms() + uint64_t{ttl_seconds} * 1000;
    entry.used = true;
    (*entries_)[next_] = entry;
    next_ = (next_ + 1) % kMaxTokens;
    return base64_encode(entry.bytes.data(), entry.bytes.size());
}

bool TokenAuthority::is_valid(std::string_view token) const {
    if (token.size() > kTokenLengthLimit) return false;
    std::array<uint8_t, kTokenBytes + 3> bytes{};
    size_t size = 0;
    if (!base64_decode(token, bytes.data(), bytes.size(), size) || size != kTokenBytes) {
        return false;
    }
    // Every slot is compared in full, so the time taken says nothing about which bytes matched.
    const uint64_t now = clock_->now_ms();
    bool found = false;
    for (const Entry& entry : *entries_) {
        uint8_t diff = 0;
        for (size_t i = 0; i < kTokenBytes; ++i)
            diff |= static_cast<uint8_t>(entry.bytes[i] ^ bytes[i]);
        found |= entry.used && diff == 0 && entry.expiry_ms > now;
    }
    return found;
}

}  // namespace ember::mmds
