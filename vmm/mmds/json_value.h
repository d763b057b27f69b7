// JsonValue: the MMDS data tree as Firecracker's serde_json::Value holds it: objects keep their
// keys sorted and unique (a BTreeMap: the last of duplicate keys wins), numbers stay integers
// when they fit 64 bits. Parsing is linear, nesting is bounded (serde_json's recursion limit),
// and the compact serialization is what Firecracker measures against the size limit.
// Thread: whoever owns the store (the vmm thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/result.h"

namespace ember::mmds {

struct JsonMember;

struct JsonValue {
    enum class Type : uint8_t {
        kNull,
        kFalse,
        kTrue,
        kInt,
        kUint,
        kDouble,
        kString,
        kArray,
        kObject
    };

    Type type = Type::kNull;
    int64_t int_value = 0;
    uint64_t uint_value = 0;
    double double_value = 0;
    std::string text;                 // kString
    std::vector<JsonValue> items;     // kArray
    std::vector<JsonMember> members;  // kObject, sorted by key (bytewise), keys unique

    bool is_object() const { return type == Type::kObject; }
    bool is_null() const { return type == Type::kNull; }
};

struct JsonMember {
    std::string key;
    JsonValue value;
};

// serde_json refuses documents nested deeper than 128 levels; so does this parser, which keeps
// the recursive walks below (serialize, patch, destroy) within a fixed stack depth.
inline constexpr size_t kMaxJsonDepth = 128;

// Parses one JSON document (RFC 8259, UTF-8 validated) in time linear in its size.
Result<JsonValue> parse_json_value(std::string_view text);

// The compact serialization serde_json::to_string writes (no spaces, keys in order, only '"',
// '\\' and control characters escaped).
std::string serialize_json(const JsonValue& value);

// RFC 7396 JSON merge patch, as Firecracker's json_patch: a non-object patch replaces the
// target; null members of an object patch delete.
void apply_merge_patch(JsonValue& target, const JsonValue& patch);

// RFC 6901 JSON pointer lookup, as serde_json's Value::pointer: "" is the root, anything else
// must start with '/'; array indices are decimal without sign or leading zeros.
const JsonValue* find_pointer(const JsonValue& root, std::string_view pointer);

}  // namespace ember::mmds
