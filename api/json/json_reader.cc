#include "api/json/json_reader.h"

#include <fmt/core.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

namespace ember::api {
namespace {

// serde_json's "at line L column C" for the byte at `offset` (columns count from 1); at the end
// of the text, where serde stands once it has read everything: after the last line's bytes.
std::string position(std::string_view text, size_t offset) {
    const bool at_end = offset >= text.size();
    offset = std::min(offset, text.size());
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    }
    return fmt::format("at line {} column {}", line, offset - line_start + (at_end ? 0 : 1));
}

// serde_json's words for a document it cannot parse; at the end of the text, what it was in.
std::string serde_parse_error(std::string_view text, rapidjson::ParseErrorCode code,
                              size_t offset) {
    const bool at_end = offset >= text.size();
    const char* what = nullptr;
    switch (code) {
        case rapidjson::kParseErrorDocumentEmpty:
        case rapidjson::kParseErrorValueInvalid:
            what = at_end ? "EOF while parsing a value" : "expected value";
            break;
        case rapidjson::kParseErrorDocumentRootNotSingular: what = "trailing characters"; break;
        case rapidjson::kParseErrorObjectMissName:
            what = at_end ? "EOF while parsing an object" : "key must be a string";
            break;
        case rapidjson::kParseErrorObjectMissColon:
            what = at_end ? "EOF while parsing an object" : "expected `:`";
            break;
        case rapidjson::kParseErrorObjectMissCommaOrCurlyBracket:
            what = at_end ? "EOF while parsing an object" : "expected `,` or `}`";
            break;
        case rapidjson::kParseErrorArrayMissCommaOrSquareBracket:
            what = at_end ? "EOF while parsing a list" : "expected `,` or `]`";
            break;
        case rapidjson::kParseErrorStringMissQuotationMark:
            what = "EOF while parsing a string";
            break;
        case rapidjson::kParseErrorStringEscapeInvalid: what = "invalid escape"; break;
        case rapidjson::kParseErrorStringUnicodeEscapeInvalidHex:
        case rapidjson::kParseErrorStringUnicodeSurrogateInvalid:
            what = "invalid unicode code point";
            break;
        case rapidjson::kParseErrorNumberTooBig:
        case rapidjson::kParseErrorNumberMissFraction:
        case rapidjson::kParseErrorNumberMissExponent: what = "invalid number"; break;
        default: what = rapidjson::GetParseError_En(code); break;
    }
    return fmt::format("{} {}", what, position(text, offset));
}

// serde's name for a value of the wrong type ("invalid type: string \"x\", expected u64").
std::string unexpected(const rapidjson::Value& v) {
    if (v.IsString())
        return fmt::format("string \"{}\"", std::string_view(v.GetString(), v.GetStringLength()));
    if (v.IsBool()) return fmt::format("boolean `{}`", v.GetBool());
    if (v.IsInt64()) return fmt::format("integer `{}`", v.GetInt64());
    if (v.IsUint64()) return fmt::format("integer `{}`", v.GetUint64());
    if (v.IsNumber()) {
        const double d = v.GetDouble();
        // Rust writes a whole f64 without an exponent.
        // The magnitude first: casting a double beyond int64_t's range is undefined.
        if (std::abs(d) >= 1e15 || d == static_cast<double>(static_cast<int64_t>(d))) {
            return fmt::format("floating point `{:.0f}`", d);
        }
        return fmt::format("floating point `{}`", d);
    }
    if (v.IsArray()) return "sequence";
    if (v.IsObject()) return "map";
    return "null";
}

}  // namespace

Error json_error(const std::string& path, std::string_view reason) {
    if (path.empty()) return Error::invalid(kJsonErrorContext, std::string(reason));
    return Error::invalid(kJsonErrorContext, fmt::format("{}: {}", path, reason));
}

Error invalid_type(const std::string& path, const rapidjson::Value& v, std::string_view expected) {
    return json_error(path, fmt::format("invalid type: {}, expected {}", unexpected(v), expected));
}

namespace {

// Where the first array or object opens kMaxJsonNesting levels deep, if one does. Linear; a
// bracket inside a string does not count.
std::optional<size_t> too_deep_at(std::string_view text) {
    size_t depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth >= kMaxJsonNesting) return i;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return std::nullopt;
}

}  // namespace

Result<void> parse_json(std::string_view text, rapidjson::Document& doc) {
    // serde_json's recursion limit: no code that walks the Document, nor any other parse of the
    // same body, then meets more depth than serde would allow (a recursive parse of a 25,000-deep
    // body in the request logger once took megabytes of the API thread's stack, RLIMIT_STACK,
    // which a jailer may lower). Only the text before the too-deep bracket is parsed: a syntax
    // error there comes first, as in serde.
    const std::optional<size_t> too_deep = too_deep_at(text);
    const std::string_view parsed = too_deep ? text.substr(0, *too_deep) : text;
    // Strings must be UTF-8 (RFC 8259 §8.1), as serde_json requires in Firecracker: every
    // string may be echoed in an answer or a log line, which must stay valid UTF-8.
    doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(
        parsed.data(), parsed.size());
    if (too_deep && (!doc.HasParseError() || doc.GetErrorOffset() >= *too_deep)) {
        doc.SetNull();
        return Error::invalid(kJsonErrorContext,
                              "recursion limit exceeded " + position(text, *too_deep));
    }
    if (doc.GetParseError() == rapidjson::kParseErrorStringInvalidEncoding) {
        return Error::invalid(
            kJsonErrorContext,
            fmt::format("invalid UTF-8 in a string at offset {}", doc.GetErrorOffset()));
    }
    if (doc.HasParseError()) {
        return Error::invalid(kJsonErrorContext,
                              serde_parse_error(text, doc.GetParseError(), doc.GetErrorOffset()));
    }
    return ok();
}

namespace {

// The length of the well-formed UTF-8 sequence at the start of `s` (Unicode 15 table 3-7), or 0.
size_t utf8_sequence_length(std::string_view s) {
    auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
    const uint8_t b0 = byte(0);
    if (b0 < 0x80) return 1;
    size_t n = 0;
    uint8_t lo = 0x80, hi = 0xbf;  // The range of the second byte.
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        n = 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        n = 3;
        if (b0 == 0xe0) lo = 0xa0;
        if (b0 == 0xed) hi = 0x9f;  // No surrogates.
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        n = 4;
        if (b0 == 0xf0) lo = 0x90;
        if (b0 == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (s.size() < n || byte(1) < lo || byte(1) > hi) return 0;
    for (size_t i = 2; i < n; ++i) {
        if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
    }
    return n;
}

}  // namespace

std::string to_valid_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    while (!text.empty()) {
        size_t n = utf8_sequence_length(text);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            n = 1;
        } else {
            out.append(text.substr(0, n));
        }
        text.remove_prefix(n);
    }
    return out;
}

namespace {

// serde's list of the names it knows: "expected `A`", "expected `A` or `B`", "expected one of
// `A`, `B`, `C`".
std::string expected_names(std::span<const std::string_view> expected) {
    std::string out;
    if (expected.size() == 1) return fmt::format("expected `{}`", expected[0]);
    if (expected.size() == 2) return fmt::format("expected `{}` or `{}`", expected[0], expected[1]);
    out += "expected one of ";
    for (size_t i = 0; i < expected.size(); ++i) {
        out += fmt::format("{}`{}`", i ? ", " : "", expected[i]);
    }
    return out;
}

}  // namespace

std::string unknown_variant(std::string_view value, std::span<const std::string_view> expected) {
    if (expected.empty()) return fmt::format("unknown variant `{}`, there are no variants", value);
    return fmt::format("unknown variant `{}`, {}", value, expected_names(expected));
}

std::string JsonObject::unknown_field(std::string_view name) const {
    std::vector<std::string_view> names;
    for (std::string_view k : known_) {
        if (std::find(names.begin(), names.end(), k) == names.end()) names.push_back(k);
    }
    if (names.empty()) return fmt::format("unknown field `{}`, there are no fields", name);
    return fmt::format("unknown field `{}`, {}", name, expected_names(names));
}

std::string join_path(const std::string& prefix, std::string_view key) {
    if (prefix.empty()) return std::string(key);
    return fmt::format("{}.{}", prefix, key);
}

std::string describe(const Error& error) {
    if (error.context() == kJsonErrorContext || error.context() == kRequestErrorContext) {
        return error.detail();
    }
    return error.message();
}

std::string describe_body_error(const Error& error, std::string_view body) {
    if (error.context() != kJsonErrorContext) return describe(error);
    // The detail is "<path>: <serde's words>" or, for the whole body, the words alone; a path
    // is made of Ember's own key names, never ": ".
    std::string_view reason = error.detail();
    std::string_view path;
    if (size_t colon = reason.find(": ");
        colon != std::string_view::npos &&
        reason.substr(0, colon).find(' ') == std::string_view::npos) {
        path = reason.substr(0, colon);
        reason.remove_prefix(colon + 2);
    }
    std::string text = fmt::format("{}{}", kDeserializeError, reason);
    const bool top_level = path.find_first_of(".[") == std::string_view::npos;
    if (top_level && reason.starts_with("missing field `")) {
        // serde finds a field missing at the object's closing brace: the body's last byte.
        size_t end = body.find_last_not_of(" \t\r\n");
        if (end != std::string_view::npos) text += " " + position(body, end);
    }
    // Firecracker ends the message with a period; a reason may already end with one.
    return text.ends_with('.') ? text : text + ".";
}

Result<JsonObject> JsonObject::from(const rapidjson::Value& value, std::string path) {
    if (!value.IsObject()) {
        return invalid_type(path, value, "a map");
    }
    return JsonObject(value, std::move(path));
}

const rapidjson::Value* JsonObject::find(const char* key) {
    known_.emplace_back(key);
    auto it = value_->FindMember(key);
    if (it == value_->MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
}

bool JsonObject::has(const char* key) const {
    auto it = value_->FindMember(key);
    return it != value_->MemberEnd() && !it->value.IsNull();
}

const rapidjson::Value* JsonObject::optional_member(const char* key) { return find(key); }

Result<std::optional<std::string>> JsonObject::optional_string(const char* key) {
    const rapidjson::Value* v = find(key);
    if (!v) return std::optional<std::string>();
    if (!v->IsString()) return invalid_type(path_of(key), *v, "a string");
    std::string_view text(v->GetString(), v->GetStringLength());
    // Every string ends up as a path, an interface name or another C string, where a NUL would
    // silently cut it short: refuse it here, once for all fields.
    if (text.find('\0') != std::string_view::npos) {
        // The reason names the key: the API drops the path and keeps only the reason.
        return json_error("", fmt::format("`{}` must not contain a NUL character "
                                          "(\\u0000)",
                                          path_of(key)));
    }
    return std::optional<std::string>(std::string(text));
}

Result<std::string> JsonObject::required_string(const char* key) {
    auto s = EMBER_TRY(optional_string(key));
    if (!s) return json_error(path_of(key), fmt::format("missing field `{}`", key));
    return std::move(*s);
}

Result<std::optional<bool>> JsonObject::optional_bool(const char* key) {
    const rapidjson::Value* v = find(key);
    if (!v) return std::optional<bool>();
    if (!v->IsBool()) return invalid_type(path_of(key), *v, "a boolean");
    return std::optional<bool>(v->GetBool());
}

Result<bool> JsonObject::required_bool(const char* key) {
    auto b = EMBER_TRY(optional_bool(key));
    if (!b) return json_error(path_of(key), fmt::format("missing field `{}`", key));
    return *b;
}

Result<std::optional<uint64_t>> JsonObject::optional_uint(const char* key, uint64_t max) {
    const rapidjson::Value* v = find(key);
    if (!v) return std::optional<uint64_t>();
    // serde's words: the type it expected is the field's Rust type.
    const char* type = max <= std::numeric_limits<uint32_t>::max() ? "u32" : "u64";
    if (max < std::numeric_limits<uint32_t>::max()) type = "u16";
    if (max < std::numeric_limits<uint16_t>::max()) type = "u8";
    if (v->IsInt64() && v->GetInt64() < 0) {
        return json_error(path_of(key), fmt::format("invalid value: integer `{}`, expected {}",
                                                    v->GetInt64(), type));
    }
    if (!v->IsUint64()) return invalid_type(path_of(key), *v, type);
    if (v->GetUint64() > max) {
        return json_error(path_of(key), fmt::format("invalid value: integer `{}`, expected {}",
                                                    v->GetUint64(), type));
    }
    return std::optional<uint64_t>(v->GetUint64());
}

Result<uint64_t> JsonObject::required_uint(const char* key, uint64_t max) {
    auto n = EMBER_TRY(optional_uint(key, max));
    if (!n) return json_error(path_of(key), fmt::format("missing field `{}`", key));
    return *n;
}

Result<void> JsonObject::finish() const {
    for (auto it = value_->MemberBegin(); it != value_->MemberEnd(); ++it) {
        std::string_view name(it->name.GetString(), it->name.GetStringLength());
        bool is_known = false;
        for (std::string_view k : known_) is_known = is_known || k == name;
        if (!is_known) return json_error(path_, unknown_field(name));
        for (auto other = value_->MemberBegin(); other != it; ++other) {
            if (name == std::string_view(other->name.GetString(), other->name.GetStringLength())) {
                return json_error(path_, fmt::format("duplicate field `{}`", name));
            }
        }
    }
    return ok();
}

}  // namespace ember::api
