// MmdsStore: the MMDS data store, a JSON tree the orchestrator sets with PUT/PATCH /mmds (or
// --metadata) and the guest reads through the MMDS service. Its serialized size is bounded by
// the limit (--mmds-size-limit, default Firecracker's 51200 bytes).
// Thread: the vmm thread only (the API reaches it through VmmController).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "vmm/base/result.h"

namespace ember::mmds {

class MmdsStore {
public:
    static constexpr size_t kDefaultSizeLimit = 51200;

    explicit MmdsStore(size_t size_limit = kDefaultSizeLimit);
    ~MmdsStore();
    MmdsStore(MmdsStore&&) noexcept;
    MmdsStore& operator=(MmdsStore&&) noexcept;

    // PUT /mmds: replaces the tree with this JSON object. Errors with Firecracker's texts (not an
    // object, over the size limit); the store is unchanged on error.
    Result<void> put(std::string_view json);
    // PATCH /mmds: RFC 7396 JSON merge patch; refused (store unchanged) when the result would be
    // over the limit.
    Result<void> patch(std::string_view json);
    // GET /mmds: the tree as compact JSON ("{}" when never set, as Firecracker's).
    std::string get_json() const;
    size_t size_limit() const { return size_limit_; }

    // The guest's view, for the service: the value at a '/'-separated path ("" is the root),
    // rendered as JSON or IMDS text (Firecracker's OutputFormat); nothing when the path names
    // no value, or (IMDS) when the value has no IMDS form (numbers, booleans, null, arrays):
    // the JSON rendering of the same path tells the two apart.
    enum class Format { kJson, kImds };
    std::optional<std::string> render(std::string_view path, Format format) const;

private:
    struct Tree;
    std::unique_ptr<Tree> tree_;
    size_t size_limit_;
};

}  // namespace ember::mmds
