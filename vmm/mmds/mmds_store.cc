// TEMP: a minimal MmdsStore (PUT, RFC 7396 PATCH, GET, size limit); dropped on merge.
#include "vmm/mmds/mmds_store.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace ember::mmds {

struct MmdsStore::Tree {
    rapidjson::Document doc;
    Tree() { doc.SetObject(); }
};

namespace {

std::string serialize(const rapidjson::Value& v) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    v.Accept(w);
    return std::string(buffer.GetString(), buffer.GetSize());
}

Result<void> parse_object(std::string_view json, rapidjson::Document& doc) {
    doc.Parse(json.data(), json.size());
    if (doc.HasParseError()) return Error::invalid("MMDS error", "the body is not valid JSON");
    if (!doc.IsObject()) {
        return Error::invalid("MMDS error",
                              "Cannot retrieve value. The value has an unsupported type.");
    }
    return ok();
}

void merge(rapidjson::Value& target, const rapidjson::Value& patch,
           rapidjson::Document::AllocatorType& alloc) {
    if (!patch.IsObject()) {
        target.CopyFrom(patch, alloc);
        return;
    }
    if (!target.IsObject()) target.SetObject();
    for (auto it = patch.MemberBegin(); it != patch.MemberEnd(); ++it) {
        if (it->value.IsNull()) {
            target.RemoveMember(it->name);
            continue;
        }
        auto found = target.FindMember(it->name);
        if (found == target.MemberEnd()) {
            rapidjson::Value key(it->name, alloc);
            rapidjson::Value value(rapidjson::kNullType);
            merge(value, it->value, alloc);
            target.AddMember(key, value, alloc);
        } else {
            merge(found->value, it->value, alloc);
        }
    }
}

Error too_large() {
    return Error::invalid("MMDS limit exceeded error", "The MMDS patch request doesn't fit.")
        .with_kind(ErrorKind::kTooLarge);
}

}  // namespace

MmdsStore::MmdsStore(size_t size_limit)
    : tree_(std::make_unique<Tree>()), size_limit_(size_limit) {}
MmdsStore::~MmdsStore() = default;
MmdsStore::MmdsStore(MmdsStore&&) noexcept = default;
MmdsStore& MmdsStore::operator=(MmdsStore&&) noexcept = default;

Result<void> MmdsStore::put(std::string_view json) {
    auto tree = std::make_unique<Tree>();
    EMBER_TRY(parse_object(json, tree->doc));
    if (serialize(tree->doc).size() > size_limit_) return too_large();
    tree_ = std::move(tree);
    return ok();
}

Result<void> MmdsStore::patch(std::string_view json) {
    rapidjson::Document patch;
    EMBER_TRY(parse_object(json, patch));
    auto tree = std::make_unique<Tree>();
    tree->doc.CopyFrom(tree_->doc, tree->doc.GetAllocator());
    merge(tree->doc, patch, tree->doc.GetAllocator());
    if (serialize(tree->doc).size() > size_limit_) return too_large();
    tree_ = std::move(tree);
    return ok();
}

std::string MmdsStore::get_json() const { return serialize(tree_->doc); }

std::optional<std::string> MmdsStore::render(std::string_view path, Format format) const {
    (void)path;
    (void)format;
    return std::nullopt;
}

}  // namespace ember::mmds
