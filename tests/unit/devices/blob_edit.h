// Editing device blobs field by field, for the codec tests: drop a field, rewrite it or set it to a
// u32, anywhere in the nested payloads. A path names a field by its tags, outermost first.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/persist/device_state.h"
#include "vmm/persist/state_fields.h"

namespace ember::snapshot::testing {

using Path = std::vector<uint32_t>;

inline FieldReader fields_of(std::span<const uint8_t> bytes) {
    Result<FieldReader> r = FieldReader::parse(bytes, "test");
    EXPECT_TRUE(r) << r.error().message();
    return std::move(*r);
}

// Rewrites `bytes` with `edit` applied to the field at `path` (which must exist): edit returns
// the new bytes, or std::nullopt to drop the field.
using Edit = std::function<std::optional<std::vector<uint8_t>>(std::span<const uint8_t>)>;
inline std::vector<uint8_t> edit_field(std::span<const uint8_t> bytes, const Path& path,
                                       size_t depth, const Edit& edit) {
    FieldWriter w;
    bool found = false;
    FieldReader fields = fields_of(bytes);
    for (const auto& [tag, data] : fields.fields()) {
        if (tag != path[depth]) {
            w.bytes(tag, data);
            continue;
        }
        found = true;
        if (depth + 1 < path.size()) {
            w.bytes(tag, edit_field(data, path, depth + 1, edit));
        } else if (auto replaced = edit(data)) {
            w.bytes(tag, *replaced);
        }
    }
    EXPECT_TRUE(found) << "no field " << path[depth] << " at depth " << depth;
    return w.take();
}

inline DeviceState edited(DeviceState d, const Path& path, const Edit& edit) {
    d.data = edit_field(d.data, path, 0, edit);
    return d;
}
inline DeviceState without(const DeviceState& d, const Path& path) {
    return edited(d, path, [](auto) { return std::nullopt; });
}
inline DeviceState with_u32(const DeviceState& d, const Path& path, uint32_t v) {
    return edited(d, path, [v](auto) {
        FieldWriter w;
        w.u32(0, v);
        std::vector<uint8_t> f = w.take();
        return std::vector<uint8_t>(f.begin() + 8, f.end());  // The value without its header.
    });
}

inline std::string to_string(const Path& p) {
    std::string s;
    for (uint32_t t : p) s += (s.empty() ? "" : ".") + std::to_string(t);
    return s;
}

// "decoded", or why decoding refused.
template <typename T>
std::string error_of(const Result<T>& r) {
    return r ? std::string("decoded") : r.error().message();
}

// A blob whose data is the file at `path` (one written by an earlier Ember), under `id`.
inline DeviceState blob_from_file(std::string_view type, const char* id, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << path;
    return {.id = id,
            .type = std::string(type),
            .version = 1,
            .data = {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}};
}

}  // namespace ember::snapshot::testing
