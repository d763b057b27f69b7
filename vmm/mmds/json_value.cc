#include "vmm/mmds/json_value.h"

#include <fmt/core.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <utility>

namespace ember::mmds {

namespace {

// A rapidjson SAX handler that builds the tree with an explicit stack (the reader runs
// iteratively, so neither side recurses per nesting level).
class TreeBuilder {
public:
    // NOLINTBEGIN(readability-identifier-naming): rapidjson's Handler concept names these.
    bool Null() { return add(JsonValue{}); }
    bool Bool(bool b) {
        JsonValue v;
        v.type = b ? JsonValue::Type::kTrue : JsonValue::Type::kFalse;
        return add(std::move(v));
    }
    bool Int(int i) { return Int64(i); }
    bool Uint(unsigned u) { return Uint64(u); }
    bool Int64(int64_t i) {
        // serde_json keeps non-negative integers as u64 and negative ones as i64.
        if (i >= 0) return Uint64(static_cast<uint64_t>(i));
        JsonValue v;
        v.type = JsonValue::Type::kInt;
        v.int_value = i;
        return add(std::move(v));
    }
    bool Uint64(uint64_t u) {
        JsonValue v;
        v.type = JsonValue::Type::kUint;
        v.uint_value = u;
        return add(std::move(v));
    }
    bool Double(double d) {
        JsonValue v;
        v.type = JsonValue::Type::kDouble;
        v.double_value = d;
        return add(std::move(v));
    }
    bool RawNumber(const char*, rapidjson::SizeType, bool) { return false; }
    bool String(const char* s, rapidjson::SizeType n, bool) {
        JsonValue v;
        v.type = JsonValue::Type::kString;
        v.text.assign(s, n);
        return add(std::move(v));
    }
    bool Key(const char* s, rapidjson::SizeType n, bool) {
        key_.assign(s, n);
        return true;
    }
    bool StartObject() { return open(JsonValue::Type::kObject); }
    bool StartArray() { return open(JsonValue::Type::kArray); }
    bool EndObject(rapidjson::SizeType) {
        JsonValue& obj = *stack_.back();
        sort_unique(obj.members);
        stack_.pop_back();
        return true;
    }
    bool EndArray(rapidjson::SizeType) {
        stack_.pop_back();
        return true;
    }

    // NOLINTEND(readability-identifier-naming)

    bool too_deep() const { return too_deep_; }
    JsonValue take() { return std::move(root_); }

private:
    // Keys sorted bytewise, the last of equal keys kept: a BTreeMap filled in document order.
    static void sort_unique(std::vector<JsonMember>& members) {
        std::stable_sort(members.begin(), members.end(),
                         [](const JsonMember& a, const JsonMember& b) { return a.key < b.key; });
        size_t out = 0;
        for (size_t i = 0; i < members.size(); ++i) {
            if (i + 1 < members.size() && members[i + 1].key == members[i].key) continue;
            if (out != i) members[out] = std::move(members[i]);
            ++out;
        }
        members.resize(out);
    }

    JsonValue* add(JsonValue v) {
        if (stack_.empty()) {
            root_ = std::move(v);
            return &root_;
        }
        JsonValue& parent = *stack_.back();
        if (parent.type == JsonValue::Type::kArray) {
            parent.items.push_back(std::move(v));
            return &parent.items.back();
        }
        parent.members.push_back(JsonMember{std::move(key_), std::move(v)});
        key_.clear();
        return &parent.members.back().value;
    }
    // Only the innermost open container changes, so pointers to the open ones stay valid.
    bool open(JsonValue::Type type) {
        if (stack_.size() >= kMaxJsonDepth) {
            too_deep_ = true;
            return false;
        }
        JsonValue v;
        v.type = type;
        stack_.push_back(add(std::move(v)));
        return true;
    }

    JsonValue root_;
    std::vector<JsonValue*> stack_;
    std::string key_;
    bool too_deep_ = false;
};

// serde_json's escaping: only '"', '\\' and the C0 controls (short forms where JSON has them).
void write_string(std::string_view s, std::string& out) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (char c : s) {
        const auto b = static_cast<unsigned char>(c);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (b < 0x20) {
                    out += "\\u00";
                    out += kHex[b >> 4];
                    out += kHex[b & 0xf];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

void write_value(const JsonValue& v, std::string& out) {
    switch (v.type) {
        case JsonValue::Type::kNull: out += "null"; break;
        case JsonValue::Type::kFalse: out += "false"; break;
        case JsonValue::Type::kTrue: out += "true"; break;
        case JsonValue::Type::kInt: out += fmt::format("{}", v.int_value); break;
        case JsonValue::Type::kUint: out += fmt::format("{}", v.uint_value); break;
        case JsonValue::Type::kDouble: {
            // Shortest round-trip digits with a ".0" on integral values, as serde_json's ryu.
            rapidjson::StringBuffer buf;
            rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
            writer.Double(v.double_value);
            out.append(buf.GetString(), buf.GetSize());
            break;
        }
        case JsonValue::Type::kString: write_string(v.text, out); break;
        case JsonValue::Type::kArray:
            out += '[';
            for (size_t i = 0; i < v.items.size(); ++i) {
                if (i) out += ',';
                write_value(v.items[i], out);
            }
            out += ']';
            break;
        case JsonValue::Type::kObject:
            out += '{';
            for (size_t i = 0; i < v.members.size(); ++i) {
                if (i) out += ',';
                write_string(v.members[i].key, out);
                out += ':';
                write_value(v.members[i].value, out);
            }
            out += '}';
            break;
    }
}

// serde_json's parse_index: no sign, no leading zero, fits usize.
bool parse_index(std::string_view s, size_t& index) {
    if (s.empty() || (s[0] == '0' && s.size() != 1)) return false;
    size_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        const auto digit = static_cast<size_t>(c - '0');
        if (n > (SIZE_MAX - digit) / 10) return false;
        n = n * 10 + digit;
    }
    index = n;
    return true;
}

// RFC 6901 §4 in serde_json's order: "~1" -> "/" first, then "~0" -> "~".
std::string unescape_token(std::string_view token) {
    std::string step;
    for (size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '~' && i + 1 < token.size() && token[i + 1] == '1') {
            step += '/';
            ++i;
        } else {
            step += token[i];
        }
    }
    std::string out;
    for (size_t i = 0; i < step.size(); ++i) {
        if (step[i] == '~' && i + 1 < step.size() && step[i + 1] == '0') {
            out += '~';
            ++i;
        } else {
            out += step[i];
        }
    }
    return out;
}

}  // namespace

Result<JsonValue> parse_json_value(std::string_view text) {
    rapidjson::MemoryStream ms(text.data(), text.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
    rapidjson::Reader reader;
    TreeBuilder builder;
    const rapidjson::ParseResult ok =
        reader.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(
            is, builder);
    if (builder.too_deep()) {
        return Error::invalid("json", fmt::format("nested deeper than {} levels at offset {}",
                                                  kMaxJsonDepth, ok.Offset()));
    }
    if (!ok) {
        return Error::invalid("json", fmt::format("malformed JSON at offset {}: {}", ok.Offset(),
                                                  rapidjson::GetParseError_En(ok.Code())));
    }
    return builder.take();
}

std::string serialize_json(const JsonValue& value) {
    std::string out;
    write_value(value, out);
    return out;
}

void apply_merge_patch(JsonValue& target, const JsonValue& patch) {
    if (!patch.is_object()) {
        target = patch;
        return;
    }
    if (!target.is_object()) {
        target = JsonValue{};
        target.type = JsonValue::Type::kObject;
    }
    // Both member lists are sorted: one merge pass, linear in their sizes.
    std::vector<JsonMember> merged;
    merged.reserve(target.members.size() + patch.members.size());
    auto t = target.members.begin();
    auto p = patch.members.begin();
    while (t != target.members.end() || p != patch.members.end()) {
        if (p == patch.members.end() || (t != target.members.end() && t->key < p->key)) {
            merged.push_back(std::move(*t++));
            continue;
        }
        const bool same = t != target.members.end() && t->key == p->key;
        if (!p->value.is_null()) {
            JsonMember m{p->key, same ? std::move(t->value) : JsonValue{}};
            apply_merge_patch(m.value, p->value);
            merged.push_back(std::move(m));
        }
        if (same) ++t;
        ++p;
    }
    target.members = std::move(merged);
}

const JsonValue* find_pointer(const JsonValue& root, std::string_view pointer) {
    if (pointer.empty()) return &root;
    if (pointer[0] != '/') return nullptr;
    const JsonValue* node = &root;
    size_t pos = 1;
    for (;;) {
        const size_t slash = pointer.find('/', pos);
        const std::string token = unescape_token(pointer.substr(
            pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
        if (node->type == JsonValue::Type::kObject) {
            auto it = std::lower_bound(
                node->members.begin(), node->members.end(), token,
                [](const JsonMember& m, const std::string& key) { return m.key < key; });
            if (it == node->members.end() || it->key != token) return nullptr;
            node = &it->value;
        } else if (node->type == JsonValue::Type::kArray) {
            size_t index = 0;
            if (!parse_index(token, index) || index >= node->items.size()) return nullptr;
            node = &node->items[index];
        } else {
            return nullptr;
        }
        if (slash == std::string_view::npos) return node;
        pos = slash + 1;
    }
}

}  // namespace ember::mmds
