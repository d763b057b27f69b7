#include "vmm/persist/state_fields.h"

#include <fmt/core.h>

#include <algorithm>

namespace ember::snapshot {

void FieldWriter::bytes(uint32_t tag, std::span<const uint8_t> data) {
    w_.u32(tag);
    w_.u32(static_cast<uint32_t>(data.size()));
    w_.bytes(data);
}

void FieldWriter::u32(uint32_t tag, uint32_t v) {
    ByteWriter b;
    b.u32(v);
    bytes(tag, b.data());
}

void FieldWriter::u64(uint32_t tag, uint64_t v) {
    ByteWriter b;
    b.u64(v);
    bytes(tag, b.data());
}

Result<FieldReader> FieldReader::parse(std::span<const uint8_t> payload, const char* what) {
    FieldReader reader(what);
    ByteReader r(payload);
    while (!r.at_end()) {
        size_t at = r.position();
        if (reader.fields_.size() == kMaxFields) {
            return Error::invalid(
                "too many snapshot fields",
                fmt::format("{} section: more than {} fields, the next at offset {}", what,
                            kMaxFields, at));
        }
        if (r.remaining() < 8) {
            return Error::invalid("snapshot field header truncated",
                                  fmt::format("{} section, offset {}", what, at));
        }
        uint32_t tag = EMBER_TRY(r.u32());
        uint32_t length = EMBER_TRY(r.u32());
        if (length > r.remaining()) {
            return Error::invalid("snapshot field length past the end of its section",
                                  fmt::format("{} section, field {} at offset {} claims {} bytes",
                                              what, tag, at, length));
        }
        reader.fields_.emplace_back(tag, EMBER_TRY(r.bytes(length)));
    }
    // Sorting finds a duplicate in O(n log n), where asking has() of every field was O(n^2).
    reader.by_tag_ = reader.fields_;
    auto by_tag = [](const Field& a, const Field& b) { return a.first < b.first; };
    std::sort(reader.by_tag_.begin(), reader.by_tag_.end(), by_tag);
    auto same_tag = [](const Field& a, const Field& b) { return a.first == b.first; };
    auto dup = std::adjacent_find(reader.by_tag_.begin(), reader.by_tag_.end(), same_tag);
    if (dup != reader.by_tag_.end()) {
        return Error::invalid("duplicate snapshot field",
                              fmt::format("{} section, field {}", what, dup->first));
    }
    return reader;
}

const std::span<const uint8_t>* FieldReader::field(uint32_t tag) const {
    auto it = std::lower_bound(by_tag_.begin(), by_tag_.end(), tag,
                               [](const Field& f, uint32_t t) { return f.first < t; });
    return it != by_tag_.end() && it->first == tag ? &it->second : nullptr;
}

Result<const std::span<const uint8_t>*> FieldReader::find(uint32_t tag, Presence presence) const {
    const std::span<const uint8_t>* f = field(tag);
    if (f == nullptr && presence == Presence::kRequired) {
        return Error::invalid("snapshot field missing",
                              fmt::format("{} section, field {}", what_, tag));
    }
    return f;
}

Error FieldReader::wrong_size(uint32_t tag, size_t got, size_t want, const char* relation) const {
    return Error::invalid("snapshot field has the wrong size",
                          fmt::format("{} section, field {}: {} bytes, expected {}{}", what_, tag,
                                      got, relation, want));
}

Result<void> FieldReader::bytes(uint32_t tag, std::vector<uint8_t>& out, Presence presence) const {
    const std::span<const uint8_t>* f = EMBER_TRY(find(tag, presence));
    if (f != nullptr) out.assign(f->begin(), f->end());
    return ok();
}

Result<void> FieldReader::u32(uint32_t tag, uint32_t& out, Presence presence) const {
    const std::span<const uint8_t>* f = EMBER_TRY(find(tag, presence));
    if (f == nullptr) return ok();
    if (f->size() != 4) return wrong_size(tag, f->size(), 4, "");
    ByteReader r(*f);
    out = EMBER_TRY(r.u32());
    return ok();
}

Result<void> FieldReader::u64(uint32_t tag, uint64_t& out, Presence presence) const {
    const std::span<const uint8_t>* f = EMBER_TRY(find(tag, presence));
    if (f == nullptr) return ok();
    if (f->size() != 8) return wrong_size(tag, f->size(), 8, "");
    ByteReader r(*f);
    out = EMBER_TRY(r.u64());
    return ok();
}

Result<void> FieldReader::str(uint32_t tag, std::string& out, Presence presence) const {
    const std::span<const uint8_t>* f = EMBER_TRY(find(tag, presence));
    if (f != nullptr) out.assign(reinterpret_cast<const char*>(f->data()), f->size());
    return ok();
}

}  // namespace ember::snapshot
