#include "vmm/snapshot/state_fields.h"

#include <fmt/core.h>

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
        if (reader.has(tag)) {
            return Error::invalid("duplicate snapshot field",
                                  fmt::format("{} section, field {}", what, tag));
        }
        reader.fields_.emplace_back(tag, EMBER_TRY(r.bytes(length)));
    }
    return reader;
}

bool FieldReader::has(uint32_t tag) const {
    for (const auto& [t, data] : fields_) {
        if (t == tag) return true;
    }
    return false;
}

Result<const std::span<const uint8_t>*> FieldReader::find(uint32_t tag, Presence presence) const {
    for (const auto& [t, data] : fields_) {
        if (t == tag) return &data;
    }
    if (presence == Presence::kRequired) {
        return Error::invalid("snapshot field missing",
                              fmt::format("{} section, field {}", what_, tag));
    }
    return static_cast<const std::span<const uint8_t>*>(nullptr);
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
