// BlobReader: typed, error-reporting access to the tagged fields of a device blob (see
// device_blob.h), so that every decode_* refuses a malformed blob with the device, the path to the
// struct and the field named, and never reads past a field.
#pragma once

#include <fmt/core.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "vmm/base/result.h"
#include "vmm/persist/state_fields.h"

namespace ember::snapshot {

// One blob, or one nested struct inside it, being decoded. Errors carry the device's context and
// the path to the struct ("slot.transport.device.queue 1") and name the field.
class BlobReader {
public:
    static Result<BlobReader> parse(std::span<const uint8_t> bytes, const char* context,
                                    std::string where) {
        Result<FieldReader> fields = FieldReader::parse(bytes, "device blob");
        if (!fields) return at(context, where, fields.error().message());
        return BlobReader(std::move(*fields), context, std::move(where));
    }

    Result<void> u64(uint32_t tag, const char* name, uint64_t& out) const {
        std::span<const uint8_t> f = EMBER_TRY(require(tag, name, 8));
        out = load_le(f);
        return ok();
    }
    Result<void> i64(uint32_t tag, const char* name, int64_t& out) const {
        uint64_t v = 0;
        EMBER_TRY(u64(tag, name, v));
        out = static_cast<int64_t>(v);
        return ok();
    }
    Result<void> i32(uint32_t tag, const char* name, int32_t& out) const {
        uint32_t v = 0;
        EMBER_TRY(number(tag, name, v));
        out = static_cast<int32_t>(v);
        return ok();
    }
    // An unsigned integer stored as u32, refused when it does not fit in T.
    template <typename T>
    Result<void> number(uint32_t tag, const char* name, T& out) const {
        static_assert(std::is_unsigned_v<T> && sizeof(T) <= 4);
        std::span<const uint8_t> f = EMBER_TRY(require(tag, name, 4));
        EMBER_TRY(fits<T>(tag, name, load_le(f)));
        out = static_cast<T>(load_le(f));
        return ok();
    }
    template <typename T>
    Result<void> optional_number(uint32_t tag, const char* name, std::optional<T>& out) const {
        out.reset();
        if (!fields_.has(tag)) return ok();
        T v{};
        EMBER_TRY(number(tag, name, v));
        out = v;
        return ok();
    }
    Result<void> flag(uint32_t tag, const char* name, bool& out) const {
        uint32_t v = 0;
        EMBER_TRY(enumeration(tag, name, v, 1u));
        out = v != 0;
        return ok();
    }
    // An enum stored as its u32 value, refused past `last`.
    template <typename E>
    Result<void> enumeration(uint32_t tag, const char* name, E& out, E last) const {
        std::span<const uint8_t> f = EMBER_TRY(require(tag, name, 4));
        uint64_t v = load_le(f);
        if (v > static_cast<uint64_t>(last)) {
            return error(fmt::format("field {} (tag {}) is {}, out of range 0..{}", name, tag, v,
                                     static_cast<uint64_t>(last)));
        }
        out = static_cast<E>(v);
        return ok();
    }
    Result<void> str(uint32_t tag, const char* name, std::string& out) const {
        std::span<const uint8_t> f = EMBER_TRY(require(tag, name, kAnySize));
        out.assign(f.begin(), f.end());
        return ok();
    }
    Result<void> optional_str(uint32_t tag, const char* name,
                              std::optional<std::string>& out) const {
        out.reset();
        if (!fields_.has(tag)) return ok();
        std::string s;
        EMBER_TRY(str(tag, name, s));
        out = std::move(s);
        return ok();
    }
    // A fixed-size byte array (a FIFO, CMOS RAM, a MAC): the field must have exactly its size.
    Result<void> fixed_bytes(uint32_t tag, const char* name, std::span<uint8_t> out) const {
        std::span<const uint8_t> f = EMBER_TRY(require(tag, name, out.size()));
        std::copy(f.begin(), f.end(), out.begin());
        return ok();
    }
    Result<BlobReader> nested(uint32_t tag, const char* name) const {
        std::span<const uint8_t> f = EMBER_TRY(require(tag, name, kAnySize));
        return parse(f, context_, where_.empty() ? name : where_ + "." + name);
    }
    Result<std::optional<BlobReader>> optional_nested(uint32_t tag, const char* name) const {
        if (!fields_.has(tag)) return std::optional<BlobReader>();
        return std::optional<BlobReader>(EMBER_TRY(nested(tag, name)));
    }

    Error error(const std::string& what) const { return at(context_, where_, what); }

private:
    static constexpr size_t kAnySize = std::numeric_limits<size_t>::max();

    BlobReader(FieldReader fields, const char* context, std::string where)
        : fields_(std::move(fields)), context_(context), where_(std::move(where)) {}

    static Error at(const char* context, const std::string& where, const std::string& what) {
        return Error::invalid(context, where.empty() ? what : where + ": " + what);
    }
    static uint64_t load_le(std::span<const uint8_t> f) {
        uint64_t v = 0;
        for (size_t i = 0; i < f.size(); ++i) v |= uint64_t{f[i]} << (8 * i);
        return v;
    }
    template <typename T>
    Result<void> fits(uint32_t tag, const char* name, uint64_t v) const {
        if (v > std::numeric_limits<T>::max()) {
            return error(fmt::format("field {} (tag {}) is {}, above {}", name, tag, v,
                                     uint64_t{std::numeric_limits<T>::max()}));
        }
        return ok();
    }
    Result<std::span<const uint8_t>> require(uint32_t tag, const char* name, size_t size) const {
        const std::span<const uint8_t>* data = fields_.field(tag);
        if (data == nullptr) return error(fmt::format("field {} (tag {}) missing", name, tag));
        if (size != kAnySize && data->size() != size) {
            return error(fmt::format("field {} (tag {}) has {} bytes, expected {}", name, tag,
                                     data->size(), size));
        }
        return *data;
    }

    FieldReader fields_;
    const char* context_;
    std::string where_;
};

}  // namespace ember::snapshot
