#include "api/config_file.h"

#include <fmt/core.h>

#include "api/json/config_codec.h"
#include "api/json/cpu_config_codec.h"
#include "api/json/mmds_codec.h"
#include "vmm/base/file_open.h"

namespace ember::api {
namespace {

// Top-level keys of Firecracker's config file for devices Ember does not have.
constexpr std::pair<const char*, const char*> kUnsupportedKeys[] = {
    {"balloon", "balloon devices"},       {"vsock", "vsock devices"},
    {"entropy", "entropy devices"},       {"pmem", "pmem devices"},
    {"memory-hotplug", "memory hotplug"},
};

template <typename T, typename Parse>
Result<std::vector<T>> parse_array(JsonObject& obj, const char* key, Parse parse) {
    std::vector<T> out;
    const rapidjson::Value* v = obj.optional_member(key);
    if (!v) return out;
    if (!v->IsArray()) return invalid_type(obj.path_of(key), *v, "a sequence");
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
        out.push_back(EMBER_TRY(parse((*v)[i], fmt::format("{}[{}]", key, i))));
    }
    return out;
}

// As Firecracker, "cpu-config" names a file that holds the custom CPU template.
Result<CpuConfig> read_cpu_config(const std::string& path) {
    std::string text = EMBER_TRY(read_named_file(
        path, FileKinds::kRegularOrFifo, kMaxConfigFileBytes, kConfigFifoTimeout, "cpu-config"));
    rapidjson::Document doc;
    if (auto parsed = parse_json(text, doc); !parsed) {
        return json_error("cpu-config", describe(parsed.error()));
    }
    return parse_cpu_config(doc, "cpu-config");
}

void write_null(JsonWriter& w, const char* key) {
    w.Key(key);
    w.Null();
}

// Firecracker writes null when MMDS is not configured.
void write_optional_mmds_config(JsonWriter& w, const VmConfig& config) {
    if (!config.mmds) {
        write_null(w, "mmds-config");
        return;
    }
    w.Key("mmds-config");
    write_mmds_config(w, *config.mmds);
}

}  // namespace

Result<VmConfig> parse_vm_config(std::string_view json) {
    rapidjson::Document doc;
    EMBER_TRY(parse_json(json, doc));
    JsonObject obj = EMBER_TRY(JsonObject::from(doc, ""));
    for (const auto& [key, what] : kUnsupportedKeys) {
        // A null value (or an empty list, as GET /vm/config writes "pmem") means "absent".
        const rapidjson::Value* v = obj.optional_member(key);
        if (v && !(v->IsArray() && v->Empty())) {
            return json_error(key, fmt::format("Ember does not support {}", what));
        }
    }
    VmConfig c;
    if (const rapidjson::Value* v = obj.optional_member("boot-source")) {
        c.boot_source = EMBER_TRY(parse_boot_source(*v, "boot-source"));
    }
    if (const rapidjson::Value* v = obj.optional_member("machine-config")) {
        c.machine = EMBER_TRY(parse_machine_config(*v, "machine-config"));
    }
    if (auto path = EMBER_TRY(obj.optional_string("cpu-config"))) {
        c.cpu_config = EMBER_TRY(read_cpu_config(*path));
        c.machine.cpu_template = CpuTemplate::kNone;  // As there, it replaces a static one.
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
    write_optional_mmds_config(w, config);
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

std::string render_full_vm_config(const VmConfig& config) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    write_null(w, "balloon");
    w.Key("drives");
    w.StartArray();
    for (const DriveConfig& d : config.drives) write_drive(w, d);
    w.EndArray();
    // Not optional in Firecracker's VmmConfig: its default (an empty path) until one is set.
    w.Key("boot-source");
    write_boot_source(w, config.boot_source.value_or(BootSourceConfig{}));
    write_null(w, "cpu-config");
    write_null(w, "logger");  // Process-wide, not the VM's: Firecracker always writes null.
    w.Key("machine-config");
    write_machine_config(w, config.machine);
    write_null(w, "metrics");
    write_optional_mmds_config(w, config);
    w.Key("network-interfaces");
    w.StartArray();
    for (const NetConfig& n : config.nets) write_net(w, n);
    w.EndArray();
    write_null(w, "vsock");
    write_null(w, "entropy");
    w.Key("pmem");
    w.StartArray();
    w.EndArray();
    write_null(w, "memory-hotplug");
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace ember::api
