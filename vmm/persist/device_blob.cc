#include "vmm/persist/device_blob.h"

#include <fmt/core.h>

#include <utility>

namespace ember::snapshot {

DeviceState make_device_blob(std::string id, std::string_view type, FieldWriter& fields) {
    return DeviceState{.id = std::move(id),
                       .type = std::string(type),
                       .version = kDeviceBlobVersion,
                       .data = fields.take()};
}

Result<BlobReader> open_device_blob(const DeviceState& d, std::string_view type,
                                    const char* context) {
    if (d.type != type) {
        return Error::invalid(context, fmt::format("blob has type \"{}\"", d.type));
    }
    if (d.version != kDeviceBlobVersion) {
        return Error::invalid(
            context, fmt::format("blob version {} is unknown (this Ember reads {})", d.version,
                                 kDeviceBlobVersion));
    }
    return BlobReader::parse(d.data, context, "");
}

}  // namespace ember::snapshot
