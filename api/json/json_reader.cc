#include "api/json/json_reader.h"

#include <fmt/core.h>
#include <rapidjson/error/en.h>

#include <cstring>

namespace ember::api {

Error json_error(const std::string& path, std::string_view reason) {
    if (path.empty()) return Error::invalid(kJsonErrorContext, std::string(reason));
    return Error::invalid(kJsonErrorContext, fmt::format("{}: {}", path, reason));
}

Result<void> parse_json(std::string_view text, rapidjson::Document& doc) {
    // Strings must be UTF-8 (RFC 8259 §8.1), as serde_json requires in Firecracker: every
    // string may be echoed in an answer or a log line, which must stay valid UTF-8.
    doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.data(),
                                                                                      text.size());
    if (doc.GetParseError() == rapidjson::kParseErrorStringInvalidEncoding) {
        return Error::invalid(
            kJsonErrorContext,
            fmt::format("invalid UTF-8 in a string at offset {}", doc.GetErrorOffset()));
    }
    if (doc.HasParseError()) {
        return Error::invalid(kJsonErrorContext,
                              fmt::format("malformed JSON at offset {}: {}", doc.GetErrorOffset(),
                                          rapidjson::GetParseError_En(doc.GetParseError())));
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

std::string unknown_variant(std::string_view value, std::span<const std::string_view> expected) {
    std::string out = fmt::format("unknown variant `{}`, ", value);
    if (expected.empty()) return out + "there are no variants";
    if (expected.size() == 1) return out + fmt::format("expected `{}`", expected[0]);
    if (expected.size() == 2) {
        return out + fmt::format("expected `{}` or `{}`", expected[0], expected[1]);
    }
    out += "expected one of ";
    for (size_t i = 0; i < expected.size(); ++i) {
        out += fmt::format("{}`{}`", i ? ", " : "", expected[i]);
    }
    return out;
}

std::string join_path(const std::string& prefix, std::string_view key) {
    if (prefix.empty()) return std::string(key);
    return fmt::format("{}.{}", prefix, key);
}

std::string describe(const Error& error) {
    if (error.context() == kJsonErrorContext) return error.detail();
    return error.message();
}

Result<JsonObject> JsonObject::from(const rapidjson::Value& value, std::string path) {
    if (!value.IsObject()) {
        return json_error(path.empty() ? std::string("request body") : path, "expected an object");
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
    if (!v->IsString()) return json_error(path_of(key), "expected a string");
    std::string_view text(v->GetString(), v->GetStringLength());
    // Every string ends up as a path, an interface name or another C string, where a NUL would
    // silently cut it short: refuse it here, once for all fields.
    if (text.find('\0') != std::string_view::npos) {
        return json_error(path_of(key), "must not contain a NUL character (\\u0000)");
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
    if (!v->IsBool()) return json_error(path_of(key), "expected a boolean");
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
    if (v->IsInt64() && v->GetInt64() < 0) {
        return json_error(path_of(key), "must not be negative");
    }
    if (!v->IsUint64()) return json_error(path_of(key), "expected an integer");
    if (v->GetUint64() > max) {
        return json_error(path_of(key), fmt::format("must be at most {}", max));
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
        if (!is_known) return json_error(path_of(name), fmt::format("unknown field `{}`", name));
        for (auto other = value_->MemberBegin(); other != it; ++other) {
            if (name == std::string_view(other->name.GetString(), other->name.GetStringLength())) {
                return json_error(path_of(name), "field given twice");
            }
        }
    }
    return ok();
}

}  // namespace ember::api
