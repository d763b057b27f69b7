#include "vmm/arch/x86_64/aml.h"

#include <algorithm>

namespace ember::x86::aml {
namespace {

// ACPI 6.5 §20.3 opcodes.
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0a;
constexpr uint8_t kWordPrefix = 0x0b;
constexpr uint8_t kDWordPrefix = 0x0c;
constexpr uint8_t kStringPrefix = 0x0d;
constexpr uint8_t kQWordPrefix = 0x0e;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kMethodOp = 0x14;
constexpr uint8_t kDualNamePrefix = 0x2e;
constexpr uint8_t kMultiNamePrefix = 0x2f;
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;  // After kExtOpPrefix.
constexpr uint8_t kRootChar = '\\';
constexpr uint8_t kArg0Op = 0x68;
constexpr uint8_t kNotifyOp = 0x86;
constexpr uint8_t kLEqualOp = 0x93;
constexpr uint8_t kIfOp = 0xa0;

// §6.4 resource descriptor tags.
constexpr uint8_t kIoPortTag = 0x47;
constexpr uint8_t kEndTag = 0x79;
constexpr uint8_t kMemory32FixedTag = 0x86;
constexpr uint8_t kExtendedInterruptTag = 0x89;

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

template <typename T>
void append_le(Bytes& out, T value) {
    for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

Bytes concat(std::span<const Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) append(out, p);
    return out;
}

// `op` (one or two bytes), PkgLength, then `body`.
Bytes with_pkg_length(std::initializer_list<uint8_t> op, const Bytes& body) {
    Bytes out(op);
    append(out, pkg_length(body.size()));
    append(out, body);
    return out;
}

void append_segment(Bytes& out, std::string_view seg) {
    for (size_t i = 0; i < 4; ++i) out.push_back(i < seg.size() ? uint8_t(seg[i]) : uint8_t('_'));
}

}  // namespace

Bytes pkg_length(size_t payload_bytes) {
    // The encoded length counts its own bytes: 1 byte up to 63, then 2, 3 or 4 bytes with the low
    // nibble in the lead byte and the rest in the following bytes (§20.2.4).
    size_t extra = 0;  // Bytes after the lead byte.
    if (payload_bytes + 1 >= 0x40) extra = 1;
    if (payload_bytes + 2 >= 0x1000) extra = 2;
    if (payload_bytes + 3 >= 0x100000) extra = 3;
    const size_t total = payload_bytes + 1 + extra;
    if (extra == 0) return {static_cast<uint8_t>(total)};
    Bytes out{static_cast<uint8_t>((extra << 6) | (total & 0xf))};
    for (size_t i = 0; i < extra; ++i) out.push_back(static_cast<uint8_t>(total >> (4 + 8 * i)));
    return out;
}

Bytes name_string(std::string_view path) {
    Bytes out;
    if (!path.empty() && path.front() == '\\') {
        out.push_back(kRootChar);
        path.remove_prefix(1);
    }
    std::vector<std::string_view> segments;
    while (!path.empty()) {
        const size_t dot = path.find('.');
        segments.push_back(path.substr(0, dot));
        if (dot == std::string_view::npos) break;
        path.remove_prefix(dot + 1);
    }
    if (segments.size() == 2) {
        out.push_back(kDualNamePrefix);
    } else if (segments.size() > 2) {
        out.push_back(kMultiNamePrefix);
        out.push_back(static_cast<uint8_t>(segments.size()));
    }
    for (std::string_view seg : segments) append_segment(out, seg);
    return out;
}

Bytes integer(uint64_t value) {
    if (value == 0) return {kZeroOp};
    if (value == 1) return {kOneOp};
    Bytes out;
    if (value <= 0xff) {
        out.push_back(kBytePrefix);
        append_le(out, static_cast<uint8_t>(value));
    } else if (value <= 0xffff) {
        out.push_back(kWordPrefix);
        append_le(out, static_cast<uint16_t>(value));
    } else if (value <= 0xffffffff) {
        out.push_back(kDWordPrefix);
        append_le(out, static_cast<uint32_t>(value));
    } else {
        out.push_back(kQWordPrefix);
        append_le(out, value);
    }
    return out;
}

Bytes dword(uint32_t value) {
    Bytes out{kDWordPrefix};
    append_le(out, value);
    return out;
}

Bytes string(std::string_view ascii) {
    Bytes out(ascii.size() + 2, 0);
    out[0] = kStringPrefix;
    std::copy(ascii.begin(), ascii.end(), out.begin() + 1);
    return out;
}

Bytes eisa_id(std::string_view id) {
    // Three letters of 5 bits each (A = 1), then four hex digits, stored big-endian (ACPI 6.5
    // §19.6.42, EISAID).
    auto hex = [](char c) -> uint32_t {
        return c <= '9' ? uint32_t(c - '0') : uint32_t((c | 0x20) - 'a' + 10);
    };
    uint32_t v = 0;
    if (id.size() == 7) {
        v = (uint32_t(id[0] - 0x40) << 26) | (uint32_t(id[1] - 0x40) << 21) |
            (uint32_t(id[2] - 0x40) << 16) | (hex(id[3]) << 12) | (hex(id[4]) << 8) |
            (hex(id[5]) << 4) | hex(id[6]);
    }
    return dword(__builtin_bswap32(v));
}

Bytes name(std::string_view path, const Bytes& object) {
    Bytes out{kNameOp};
    append(out, name_string(path));
    append(out, object);
    return out;
}

Bytes package(std::span<const Bytes> elements) {
    Bytes body{static_cast<uint8_t>(elements.size())};
    append(body, concat(elements));
    return with_pkg_length({kPackageOp}, body);
}

Bytes device(std::string_view path, std::span<const Bytes> terms) {
    Bytes body = name_string(path);
    append(body, concat(terms));
    return with_pkg_length({kExtOpPrefix, kDeviceOp}, body);
}

Bytes method(std::string_view path, uint8_t arg_count, MethodSync sync,
             std::span<const Bytes> terms) {
    Bytes body = name_string(path);
    body.push_back(static_cast<uint8_t>((arg_count & 0x7) | (static_cast<uint8_t>(sync) << 3)));
    append(body, concat(terms));
    return with_pkg_length({kMethodOp}, body);
}

Bytes if_then(const Bytes& predicate, std::span<const Bytes> terms) {
    Bytes body = predicate;
    append(body, concat(terms));
    return with_pkg_length({kIfOp}, body);
}

Bytes equal(const Bytes& a, const Bytes& b) {
    Bytes out{kLEqualOp};
    append(out, a);
    append(out, b);
    return out;
}

Bytes arg(uint8_t index) { return {static_cast<uint8_t>(kArg0Op + (index & 0x7))}; }

Bytes notify(const Bytes& object, const Bytes& value) {
    Bytes out{kNotifyOp};
    append(out, object);
    append(out, value);
    return out;
}

Bytes resource_template(std::span<const Bytes> descriptors) {
    Bytes data = concat(descriptors);
    data.push_back(kEndTag);
    data.push_back(0);  // Checksum 0: "treat as correct" (§6.4.2.9).
    Bytes body = integer(data.size());
    append(body, data);
    return with_pkg_length({kBufferOp}, body);
}

Bytes io(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length) {
    Bytes out{kIoPortTag, 0x01};  // Decodes 16-bit addresses.
    append_le(out, min);
    append_le(out, max);
    out.push_back(alignment);
    out.push_back(length);
    return out;
}

Bytes memory32_fixed(uint32_t base, uint32_t length) {
    Bytes out{kMemory32FixedTag};
    append_le(out, uint16_t{9});
    out.push_back(0x01);  // Read-write.
    append_le(out, base);
    append_le(out, length);
    return out;
}

Bytes edge_interrupt(uint32_t gsi) {
    Bytes out{kExtendedInterruptTag};
    append_le(out, uint16_t{6});
    out.push_back(0x03);  // Consumer, edge-triggered, active high, exclusive.
    out.push_back(1);     // One interrupt number follows.
    append_le(out, gsi);
    return out;
}

}  // namespace ember::x86::aml
