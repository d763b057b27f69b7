// JsonObject: reads one JSON object field by field, with errors that name the full key path
// ("machine-config.vcpu_count: expected an integer"). finish() refuses keys nobody asked for.
// Used on the API thread and by the config-file path; holds no state beyond one parse.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/result.h"

namespace ember::api {

// The context of every error raised while reading JSON; describe() shows only the detail for it.
inline constexpr const char kJsonErrorContext[] = "json";
// The context of a request error with Firecracker's own text, shown as it is (not a JSON error).
inline constexpr const char kRequestErrorContext[] = "request";
// What Firecracker writes before serde's words for every body it cannot deserialize.
inline constexpr std::string_view kDeserializeError =
    "An error occurred when deserializing the json body of a request: ";

// An error for `path`: "<path>: <reason>".
Error json_error(const std::string& path, std::string_view reason);
// serde's words for a value of the wrong type: "invalid type: string \"x\", expected u64".
Error invalid_type(const std::string& path, const rapidjson::Value& value,
                   std::string_view expected);
// serde's words for an enum value it does not know, which Firecracker's clients match on:
// "unknown variant `x`, expected `A` or `B`" ("expected one of `A`, `B`, `C`" for more).
std::string unknown_variant(std::string_view value, std::span<const std::string_view> expected);

// serde_json's recursion limit: an array or object opening this many levels deep is refused.
inline constexpr size_t kMaxJsonNesting = 128;
// Parses `text` into `doc` iteratively, refusing nesting deeper than serde's limit ("recursion
// limit exceeded at line L column C"), so that nothing that walks `doc` meets more depth than
// serde allows. Linear in the text.
Result<void> parse_json(std::string_view text, rapidjson::Document& doc);

// `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD, so
// that text from outside (a request path, a file name) can go into a JSON answer.
std::string to_valid_utf8(std::string_view text);

// "a.b" or just "b" when the prefix is empty.
std::string join_path(const std::string& prefix, std::string_view key);

class JsonObject {
public:
    // Fails unless `value` is an object.
    static Result<JsonObject> from(const rapidjson::Value& value, std::string path);

    // A JSON null counts as absent, as serde's Option does.
    Result<std::optional<std::string>> optional_string(const char* key);
    Result<std::string> required_string(const char* key);
    Result<std::optional<bool>> optional_bool(const char* key);
    Result<bool> required_bool(const char* key);
    Result<std::optional<uint64_t>> optional_uint(
        const char* key, uint64_t max = std::numeric_limits<uint64_t>::max());
    Result<uint64_t> required_uint(const char* key,
                                   uint64_t max = std::numeric_limits<uint64_t>::max());
    // The member when present and not null; the caller reads it with its own JsonObject.
    const rapidjson::Value* optional_member(const char* key);
    // Marks a key as known without reading it (for keys handled elsewhere).
    void accept(const char* key) { known_.emplace_back(key); }
    // Refuses keys that no read asked for, and keys given twice.
    Result<void> finish() const;

    const std::string& path() const { return path_; }
    std::string path_of(std::string_view key) const { return join_path(path_, key); }
    bool has(const char* key) const;

private:
    JsonObject(const rapidjson::Value& value, std::string path)
        : value_(&value), path_(std::move(path)) {}
    const rapidjson::Value* find(const char* key);
    // serde's words for a key no read asked for, naming the keys that were.
    std::string unknown_field(std::string_view name) const;

    const rapidjson::Value* value_;
    std::string path_;
    std::vector<std::string_view> known_;
};

// The text of an error for a human: the bare detail for JSON errors ("drives[0].drive_id:
// invalid type: ..."), the full message ("vcpu_count: The vCPU number is invalid! ...") otherwise.
std::string describe(const Error& error);

// The fault message of the API for an error about the request `body`, as Firecracker writes it:
// JSON errors carry its prefix and serde's words without Ember's key path, and a missing field
// of the top-level object gets serde's position (the closing brace). Others as describe().
std::string describe_body_error(const Error& error, std::string_view body);

}  // namespace ember::api
