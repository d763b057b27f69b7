// The data store mirrors Firecracker's src/vmm/src/mmds/data_store.rs (Mmds::put_data,
// patch_data, get_value, format_imds) and the error texts its API shows
// (src/vmm/src/rpc_interface.rs: "MMDS error: ...", "MMDS limit exceeded error: ...").
#include "vmm/mmds/mmds_store.h"

#include <string>
#include <utility>

#include "vmm/mmds/json_value.h"

namespace ember::mmds {

namespace {

// Firecracker's VmmActionError::MmdsLimitExceeded and ::Mmds prefixes, with data_store.rs's
// MmdsDatastoreError texts: message() reads "<context>: <detail>".
constexpr const char kLimitContext[] = "MMDS limit exceeded error";
constexpr const char kMmdsContext[] = "MMDS error";
constexpr const char kLimitText[] = "The MMDS patch request doesn't fit.";
constexpr const char kNotInitializedText[] = "The MMDS data store is not initialized.";

Error limit_exceeded() { return Error::too_large(kLimitContext, kLimitText); }

// format_imds: an object lists its keys one a line (sub-objects with a trailing '/'), a string
// is itself; every other type has no IMDS form.
std::optional<std::string> format_imds(const JsonValue& value) {
    if (value.is_object()) {
        std::string out;
        for (size_t i = 0; i < value.members.size(); ++i) {
            if (i) out += '\n';
            out += value.members[i].key;
            if (value.members[i].value.is_object()) out += '/';
        }
        return out;
    }
    if (value.type == JsonValue::Type::kString) return value.text;
    return std::nullopt;
}

}  // namespace

struct MmdsStore::Tree {
    JsonValue root;  // null until the first PUT, as Firecracker's Value::default().
    bool initialized = false;
};

MmdsStore::MmdsStore(size_t size_limit)
    : tree_(std::make_unique<Tree>()), size_limit_(size_limit) {}
MmdsStore::~MmdsStore() = default;
MmdsStore::MmdsStore(MmdsStore&&) noexcept = default;
MmdsStore& MmdsStore::operator=(MmdsStore&&) noexcept = default;

Result<void> MmdsStore::put(std::string_view json) {
    // Firecracker accepts any JSON value here (serde_json::Value), not only objects.
    JsonValue value = EMBER_TRY(parse_json_value(json));
    if (serialize_json(value).size() > size_limit_) return limit_exceeded();
    tree_->root = std::move(value);
    tree_->initialized = true;
    return ok();
}

Result<void> MmdsStore::patch(std::string_view json) {
    JsonValue patch = EMBER_TRY(parse_json_value(json));
    if (!tree_->initialized) return Error::invalid(kMmdsContext, kNotInitializedText);
    JsonValue merged = tree_->root;
    apply_merge_patch(merged, patch);
    if (serialize_json(merged).size() > size_limit_) return limit_exceeded();
    tree_->root = std::move(merged);
    return ok();
}

std::string MmdsStore::get_json() const {
    // The API shows a null store (never set, or set to null) as an empty object.
    if (tree_->root.is_null()) return "{}";
    return serialize_json(tree_->root);
}

std::optional<std::string> MmdsStore::render(std::string_view path, Format format) const {
    // get_value: one trailing '/' names the same value ("/a/" is "/a").
    if (!path.empty() && path.back() == '/') path.remove_suffix(1);
    const JsonValue* value = find_pointer(tree_->root, path);
    if (!value) return std::nullopt;
    if (format == Format::kJson) return serialize_json(*value);
    return format_imds(*value);
}

}  // namespace ember::mmds
