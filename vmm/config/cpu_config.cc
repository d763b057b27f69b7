#include "vmm/config/cpu_config.h"

#include <fmt/core.h>

#include <array>
#include <limits>
#include <utility>

namespace ember {
namespace {

constexpr std::array<std::pair<CpuTemplate, const char*>, 6> kNames{{
    {CpuTemplate::kC3, "C3"},
    {CpuTemplate::kT2, "T2"},
    {CpuTemplate::kT2S, "T2S"},
    {CpuTemplate::kT2CL, "T2CL"},
    {CpuTemplate::kT2A, "T2A"},
    {CpuTemplate::kNone, "None"},
}};

constexpr const char* kContext = "cpu template";

// Rust's ParseIntError as Firecracker's messages print it: Debug ({:?}) or Display.
enum class IntError { kNone, kEmpty, kInvalidDigit, kOverflow };

const char* debug_text(IntError e) {
    switch (e) {
        case IntError::kEmpty: return "ParseIntError { kind: Empty }";
        case IntError::kInvalidDigit: return "ParseIntError { kind: InvalidDigit }";
        case IntError::kOverflow: return "ParseIntError { kind: PosOverflow }";
        case IntError::kNone: break;
    }
    return "";
}

const char* display_text(IntError e) {
    switch (e) {
        case IntError::kEmpty: return "cannot parse integer from empty string";
        case IntError::kInvalidDigit: return "invalid digit found in string";
        case IntError::kOverflow: return "number too large to fit in target type";
        case IntError::kNone: break;
    }
    return "";
}

int digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 99;
}

// u64::from_str_radix bounded by `max`: digits only (one leading '+' allowed, as Rust does).
IntError parse_radix(std::string_view s, unsigned radix, uint64_t max, uint64_t& out) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty()) return IntError::kEmpty;
    uint64_t v = 0;
    for (char c : s) {
        const int d = digit_value(c);
        if (d >= static_cast<int>(radix)) return IntError::kInvalidDigit;
        if (v > (max - static_cast<uint64_t>(d)) / radix) return IntError::kOverflow;
        v = v * radix + static_cast<uint64_t>(d);
    }
    out = v;
    return IntError::kNone;
}

}  // namespace

const char* cpu_template_name(CpuTemplate t) {
    for (const auto& [value, name] : kNames) {
        if (value == t) return name;
    }
    return "None";
}

std::optional<CpuTemplate> cpu_template_from_name(std::string_view name) {
    for (const auto& [value, text] : kNames) {
        if (name == text) return value;
    }
    return std::nullopt;
}

Result<BitFilter<uint64_t>> parse_bitmap(std::string_view text, unsigned bits) {
    std::string_view digits = text;
    if (digits.substr(0, 2) == "0b") digits.remove_prefix(2);
    BitFilter<uint64_t> out;
    unsigned i = 0;
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
        // Checked before '_' is skipped, as Firecracker does.
        if (i == bits) {
            return Error::invalid(
                kContext,
                fmt::format("Failed to parse string [{}] as a bitmap - string is too long", text));
        }
        const char c = *it;
        if (c == '_') continue;
        const uint64_t bit = uint64_t{1} << i;
        if (c == '0' || c == '1') {
            out.filter |= bit;
            if (c == '1') out.value |= bit;
        } else if (c != 'x') {
            // Firecracker prints the offending byte as a number.
            return Error::invalid(
                kContext,
                fmt::format("Failed to parse string [{}] as a bitmap - unknown character: {}", text,
                            static_cast<unsigned>(static_cast<unsigned char>(c))));
        }
        ++i;
    }
    return out;
}

std::string bitmap_text(const BitFilter<uint64_t>& bitmap, unsigned bits) {
    std::string out = "0b";
    for (unsigned i = bits; i-- > 0;) {
        const uint64_t bit = uint64_t{1} << i;
        if ((bitmap.filter & bit) == 0) {
            out += 'x';
        } else {
            out += (bitmap.value & bit) != 0 ? '1' : '0';
        }
    }
    return out;
}

Result<uint64_t> parse_template_number(std::string_view text, uint64_t max) {
    unsigned radix = 0;
    if (text.substr(0, 2) == "0b") radix = 2;
    if (text.substr(0, 2) == "0x") radix = 16;
    if (radix == 0) {
        return Error::invalid(
            kContext, fmt::format("No supported number system prefix found in value [{}]. Make "
                                  "sure to prefix the number with '0x' for hexadecimal numbers "
                                  "or '0b' for binary numbers.",
                                  text));
    }
    uint64_t value = 0;
    if (IntError e = parse_radix(text.substr(2), radix, max, value); e != IntError::kNone) {
        return Error::invalid(
            kContext, fmt::format("Failed to parse string [{}] as a number for CPU template - {}",
                                  text, debug_text(e)));
    }
    return value;
}

Result<KvmCapabilityChange> parse_kvm_capability(std::string_view text) {
    KvmCapabilityChange out;
    std::string_view digits = text;
    if (!digits.empty() && digits.front() == '!') {
        out.remove = true;
        digits.remove_prefix(1);
    }
    uint64_t value = 0;
    IntError e = parse_radix(digits, 10, std::numeric_limits<uint32_t>::max(), value);
    if (e != IntError::kNone) {
        return Error::invalid(kContext,
                              fmt::format("Failed to parse string [{}] as a kvm capability - can "
                                          "not convert to numeric: {}",
                                          text, display_text(e)));
    }
    out.capability = static_cast<uint32_t>(value);
    return out;
}

}  // namespace ember
