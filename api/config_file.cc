#include "api/config_file.h"

#include <fmt/core.h>

#include "api/json/config_codec.h"
#include "api/json/mmds_codec.h"

namespace ember::api {
namespace {

// Top-level keys of Firecracker's config file for devices Ember does not have.
constexpr std::pair<const char*, const char*> kUnsupportedKeys[] = {
    {"balloon", "balloon devices"},       {"vsock", "vsock devices"},
    {"entropy", "entropy devices"},       {"pmem", "pmem devices"},
    {"memory-hotplug", "memory hotplug"}, {"cpu-config", "custom CPU templates"},
};

template <typename T, typename Parse>
Result<std::vector<T>> parse_array(JsonObject& obj, const char* key, Parse parse) {
    std::vector<T> out;
    const rapidjson::Value* v = obj.optional_member(key);
    if (!v) return out;
    if (!v->IsArray()) return json_error(obj.path_of(key), "expected an array");
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
        out.push_back(EMBER_TRY(parse((*v)[i], fmt::format("{}[{}]", key, i))));
    }
    return out;
}

}  // namespace

Result<VmConfig> parse_vm_config(std::string_view json) {
    rapidjson::Document doc;
    EMBER_TRY(parse_json(json, doc));
    JsonObject obj = EMBER_TRY(JsonObject::from(doc, ""));
    for (const auto& [key, what] : kUnsupportedKeys) {
        if (obj.has(key)) return json_error(key, fmt::format("Ember does not support {}", what));
        obj.accept(key);  // A null value for such a key means "absent".
    }
    VmConfig c;
    if (const rapidjson::Value* v = obj.optional_member("boot-source")) {
        c.boot_source = EMBER_TRY(parse_boot_source(*v, "boot-source"));
    }
    if (const rapidjson::Value* v = obj.optional_member("machine-config")) {
        c.machine = EMBER_TRY(parse_machine_config(*v, "machine-config"));
    }
    c.drives = EMBER_TRY(parse_array<DriveConfig>(obj, "drives", parse_drive));
    c.nets = EMBER_TRY(parse_array<NetConfig>(obj, "network-interfaces", parse_net));
    if (const rapidjson::Value* v = obj.optional_member("logger")) {
        c.logger = EMBER_TRY(parse_logger(*v, "logger"));
    }
    if (const rapidjson::Value* v = obj.optional_member("metrics")) {
        c.metrics = EMBER_TRY(parse_metrics(*v, "metrics"));
    }
    if (const rapidjson::Value* v = obj.optional_member("serial")) {
        c.serial = EMBER_TRY(parse_serial(*v, "serial"));
    }
    // As Firecracker's config file: the MMDS configuration only; the data comes from --metadata.
    if (const rapidjson::Value* v = obj.optional_member("mmds-config")) {
        c.mmds = EMBER_TRY(parse_mmds_config(*v, "mmds-config"));
    }
    EMBER_TRY(obj.finish());
    return c;
}

std::string render_vm_config(const VmConfig& config) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    if (config.boot_source) {
        w.Key("boot-source");
        write_boot_source(w, *config.boot_source);
    }
    w.Key("drives");
    w.StartArray();
    for (const DriveConfig& d : config.drives) write_drive(w, d);
    w.EndArray();
    w.Key("machine-config");
    write_machine_config(w, config.machine);
    // Firecracker writes null when MMDS is not configured.
    w.Key("mmds-config");
    if (config.mmds) {
        write_mmds_config(w, *config.mmds);
    } else {
        w.Null();
    }
    w.Key("network-interfaces");
    w.StartArray();
    for (const NetConfig& n : config.nets) write_net(w, n);
    w.EndArray();
    if (config.logger) {
        w.Key("logger");
        write_logger(w, *config.logger);
    }
    if (config.metrics) {
        w.Key("metrics");
        write_metrics(w, *config.metrics);
    }
    if (config.serial) {
        w.Key("serial");
        write_serial(w, *config.serial);
    }
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace ember::api
