#include "vmm/startup_steps.h"

#include "api/config_file.h"
#include "api/json/json_reader.h"
#include "vmm/base/log.h"

namespace ember::startup {

std::optional<int> load_metadata(Vmm& vmm, const std::string& json) {
    // Firecracker's words for each: serde's for bad JSON, the store's own for data that does
    // not fit.
    rapidjson::Document doc;
    if (Result<void> parsed = api::parse_json(json, doc); !parsed) {
        EMBER_ERROR("MMDS error: metadata provided not valid json: {}", parsed.error().detail());
        return kBadConfiguration;
    }
    if (Result<void> put = vmm.put_mmds(json); !put) {
        const Error& e = put.error();
        EMBER_ERROR("Populating MMDS from file failed: {}",
                    e.detail().empty() ? e.message() : e.detail());
        return kGenericError;
    }
    EMBER_INFO("Successfully added metadata to mmds from file");
    return std::nullopt;
}

std::optional<int> boot_from_file(Vmm& vmm, const std::string& path, const std::string& json) {
    // Firecracker's words (main.rs, BuildFromJson), then the file.
    constexpr const char* kFailed = "Configuration for VMM from one single json failed: {} ({})";
    Result<VmConfig> config = api::parse_vm_config(json);
    if (!config) {
        EMBER_ERROR(kFailed, config.error().message(), path);
        return kBadConfiguration;
    }
    if (Result<void> configured = vmm.configure(*config); !configured) {
        EMBER_ERROR(kFailed, configured.error().message(), path);
        return kBadConfiguration;
    }
    if (Result<void> started = vmm.start(); !started) {
        EMBER_ERROR("cannot start the microVM: {}", started.error().message());
        return kGenericError;
    }
    return std::nullopt;
}

}  // namespace ember::startup
