// Fields inside a section payload: a list of (tag u32, length u32, bytes) records, so a section can
// grow. A reader skips field tags it does not know (written by a later Ember) and defaults those
// that are missing but optional (written by an earlier one). Device owners encode their state
// blobs with the same two classes.
//
// FieldReader is linear in its payload plus O(n log n) in its field count, which is at most
// kMaxFields: a crafted payload of many empty fields is refused, never parsed in quadratic time.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/persist/byte_io.h"

namespace ember::snapshot {

class FieldWriter {
public:
    void bytes(uint32_t tag, std::span<const uint8_t> data);
    void u32(uint32_t tag, uint32_t v);
    void u64(uint32_t tag, uint64_t v);
    void str(uint32_t tag, std::string_view s) {
        bytes(tag, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    }
    template <typename T>
    void pod(uint32_t tag, const T& value) {
        static_assert(std::is_trivially_copyable_v<T>);
        bytes(tag, {reinterpret_cast<const uint8_t*>(&value), sizeof(T)});
    }
    template <typename T>
    void pod_array(uint32_t tag, std::span<const T> values) {
        static_assert(std::is_trivially_copyable_v<T>);
        bytes(tag, {reinterpret_cast<const uint8_t*>(values.data()), values.size_bytes()});
    }
    std::vector<uint8_t> take() { return w_.take(); }

private:
    ByteWriter w_;
};

enum class Presence { kRequired, kOptional };

// The most fields one payload (a section, a device blob, or a struct nested in one) may hold. The
// largest Ember writes is a virtio device's with 16 queues, 21 fields: this leaves room for later
// Embers to add fields, and bounds what a crafted payload of empty fields makes a reader allocate.
inline constexpr size_t kMaxFields = 256;

class FieldReader {
public:
    // Splits `payload` into fields (views into it: keep it alive while reading); refuses a field
    // past the end, a tag given twice or more than kMaxFields fields. `what` names the section in
    // errors ("vCPU", "device").
    static Result<FieldReader> parse(std::span<const uint8_t> payload, const char* what);

    // Each getter leaves `out` unchanged when the field is absent and optional.
    Result<void> bytes(uint32_t tag, std::vector<uint8_t>& out, Presence presence) const;
    Result<void> u32(uint32_t tag, uint32_t& out, Presence presence) const;
    Result<void> u64(uint32_t tag, uint64_t& out, Presence presence) const;
    Result<void> str(uint32_t tag, std::string& out, Presence presence) const;
    template <typename T>
    Result<void> pod(uint32_t tag, T& out, Presence presence) const {
        static_assert(std::is_trivially_copyable_v<T>);
        const std::span<const uint8_t>* f = EMBER_TRY(find(tag, presence));
        if (f == nullptr) return ok();
        if (f->size() != sizeof(T)) return wrong_size(tag, f->size(), sizeof(T), "");
        std::memcpy(&out, f->data(), sizeof(T));
        return ok();
    }
    template <typename T>
    Result<void> pod_array(uint32_t tag, std::vector<T>& out, Presence presence) const {
        static_assert(std::is_trivially_copyable_v<T>);
        const std::span<const uint8_t>* f = EMBER_TRY(find(tag, presence));
        if (f == nullptr) return ok();
        if (f->size() % sizeof(T) != 0)
            return wrong_size(tag, f->size(), sizeof(T), "a multiple of ");
        out.resize(f->size() / sizeof(T));
        if (!out.empty()) std::memcpy(out.data(), f->data(), f->size());
        return ok();
    }

    bool has(uint32_t tag) const { return field(tag) != nullptr; }
    // The field's bytes, or nullptr when it is absent. O(log n).
    const std::span<const uint8_t>* field(uint32_t tag) const;
    // Every field in file order, for tools and tests that rewrite a payload.
    const std::vector<std::pair<uint32_t, std::span<const uint8_t>>>& fields() const {
        return fields_;
    }

private:
    using Field = std::pair<uint32_t, std::span<const uint8_t>>;

    explicit FieldReader(const char* what) : what_(what) {}
    Result<const std::span<const uint8_t>*> find(uint32_t tag, Presence presence) const;
    Error wrong_size(uint32_t tag, size_t got, size_t want, const char* relation) const;

    const char* what_;
    std::vector<Field> fields_;  // File order.
    std::vector<Field> by_tag_;  // The same, sorted by tag, for lookups.
};

}  // namespace ember::snapshot
