// GuestAddress: a guest physical address, kept apart from host pointers and plain integers.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>

namespace ember {

class GuestAddress {
public:
    constexpr GuestAddress() = default;
    constexpr explicit GuestAddress(uint64_t value) : value_(value) {}

    constexpr uint64_t value() const { return value_; }

    // Overflow-checked arithmetic: a guest-supplied address plus length must never wrap.
    constexpr std::optional<GuestAddress> checked_add(uint64_t offset) const {
        uint64_t out = 0;
        if (__builtin_add_overflow(value_, offset, &out)) return std::nullopt;
        return GuestAddress(out);
    }
    // For addresses Ember itself computes, where overflow is a programming error.
    constexpr GuestAddress operator+(uint64_t offset) const {
        return GuestAddress(value_ + offset);
    }
    constexpr uint64_t operator-(GuestAddress other) const { return value_ - other.value_; }
    // clang-tidy 14 takes the 0 that a defaulted <=> compares with for a null pointer.
    // NOLINTNEXTLINE(modernize-use-nullptr)
    constexpr auto operator<=>(const GuestAddress&) const = default;

private:
    uint64_t value_ = 0;
};

}  // namespace ember
