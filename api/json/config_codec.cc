#include "api/json/config_codec.h"

#include <fmt/core.h>

#include <limits>

#include "vmm/base/log.h"

namespace ember::api {
namespace {

// Reads an optional string that must be one of `names`; returns its index.
template <size_t N>
Result<std::optional<size_t>> optional_enum(JsonObject& obj, const char* key,
                                            const std::string_view (&names)[N]) {
    auto s = EMBER_TRY(obj.optional_string(key));
    if (!s) return std::optional<size_t>();
    for (size_t i = 0; i < N; ++i) {
        if (*s == names[i]) return std::optional<size_t>(i);
    }
    return json_error(obj.path_of(key), unknown_variant(*s, names));
}

constexpr std::string_view kHugePages[] = {"None", "Transparent", "2M"};
constexpr std::string_view kCacheTypes[] = {"Unsafe", "Writeback"};
constexpr std::string_view kIoEngines[] = {"Sync", "Async"};
// In CpuTemplate's order.
constexpr std::string_view kCpuTemplates[] = {"None", "C3", "T2", "T2S", "T2CL", "T2A"};

Result<std::optional<RateLimiterConfig>> optional_rate_limiter(JsonObject& obj, const char* key) {
    const rapidjson::Value* v = obj.optional_member(key);
    if (!v) return std::optional<RateLimiterConfig>();
    return std::optional<RateLimiterConfig>(EMBER_TRY(parse_rate_limiter(*v, obj.path_of(key))));
}

constexpr const char* kMachineKeys[] = {"vcpu_count",        "mem_size_mib", "smt",
                                        "track_dirty_pages", "huge_pages",   "cpu_template"};

// Reads the fields shared by PUT and PATCH /machine-config into `m`.
Result<void> read_machine_fields(JsonObject& obj, MachineConfig& m) {
    if (auto v = EMBER_TRY(obj.optional_uint("vcpu_count", std::numeric_limits<uint8_t>::max()))) {
        m.vcpu_count = static_cast<uint32_t>(*v);
    }
    if (auto v = EMBER_TRY(obj.optional_uint("mem_size_mib"))) m.mem_size_mib = *v;
    if (auto v = EMBER_TRY(obj.optional_bool("smt"))) m.smt = *v;
    if (auto v = EMBER_TRY(obj.optional_bool("track_dirty_pages"))) m.track_dirty_pages = *v;
    if (auto v = EMBER_TRY(optional_enum(obj, "huge_pages", kHugePages))) {
        m.huge_pages = static_cast<HugePages>(*v);
    }
    // Deprecated in Firecracker, still applied there and here.
    if (auto v = EMBER_TRY(optional_enum(obj, "cpu_template", kCpuTemplates))) {
        m.cpu_template = static_cast<CpuTemplate>(*v);
    }
    return obj.finish();
}

}  // namespace

Result<TokenBucketConfig> parse_token_bucket(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    TokenBucketConfig c;
    c.size = EMBER_TRY(obj.required_uint("size"));
    c.refill_time_ms = EMBER_TRY(obj.required_uint("refill_time"));
    c.one_time_burst = EMBER_TRY(obj.optional_uint("one_time_burst")).value_or(0);
    EMBER_TRY(obj.finish());
    return c;
}

Result<RateLimiterConfig> parse_rate_limiter(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    RateLimiterConfig c;
    if (const rapidjson::Value* v = obj.optional_member("bandwidth")) {
        c.bandwidth = EMBER_TRY(parse_token_bucket(*v, obj.path_of("bandwidth")));
    }
    if (const rapidjson::Value* v = obj.optional_member("ops")) {
        c.ops = EMBER_TRY(parse_token_bucket(*v, obj.path_of("ops")));
    }
    EMBER_TRY(obj.finish());
    return c;
}

Result<BootSourceConfig> parse_boot_source(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    BootSourceConfig c;
    c.kernel_image_path = EMBER_TRY(obj.required_string("kernel_image_path"));
    c.boot_args = EMBER_TRY(obj.optional_string("boot_args"));
    c.initrd_path = EMBER_TRY(obj.optional_string("initrd_path"));
    EMBER_TRY(obj.finish());
    return c;
}

Result<MachineConfig> parse_machine_config(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    MachineConfig m;
    // As serde: wrong types and unknown fields first, missing fields at the closing brace.
    EMBER_TRY(read_machine_fields(obj, m));
    for (const char* key : {"vcpu_count", "mem_size_mib"}) {
        if (!obj.has(key))
            return json_error(obj.path_of(key), fmt::format("missing field `{}`", key));
    }
    return m;
}

Result<MachineConfig> parse_machine_config_patch(const rapidjson::Value& value, std::string path,
                                                 MachineConfig current) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    // Not merged: set only when the request names it, so that the VMM keeps a custom template.
    current.cpu_template.reset();
    EMBER_TRY(read_machine_fields(obj, current));
    // Firecracker's words for a PATCH that changes nothing (request/machine_configuration.rs).
    bool any = false;
    for (const char* key : kMachineKeys) any = any || obj.has(key);
    if (!any) return Error::invalid(kRequestErrorContext, "Empty PATCH request.");
    return current;
}

Result<DriveConfig> parse_drive(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    if (obj.has("socket")) {
        return json_error(obj.path_of("socket"), "Ember does not support vhost-user-block drives");
    }
    obj.accept("socket");  // null, as GET /vm/config writes it, means none.
    DriveConfig c;
    c.drive_id = EMBER_TRY(obj.required_string("drive_id"));
    c.is_root_device = EMBER_TRY(obj.required_bool("is_root_device"));
    c.path_on_host = EMBER_TRY(obj.required_string("path_on_host"));
    c.partuuid = EMBER_TRY(obj.optional_string("partuuid"));
    c.is_read_only = EMBER_TRY(obj.optional_bool("is_read_only")).value_or(false);
    if (auto v = EMBER_TRY(optional_enum(obj, "cache_type", kCacheTypes))) {
        c.cache_type = static_cast<CacheType>(*v);
    }
    if (auto v = EMBER_TRY(optional_enum(obj, "io_engine", kIoEngines))) {
        c.io_engine = static_cast<IoEngine>(*v);
    }
    c.rate_limiter = EMBER_TRY(optional_rate_limiter(obj, "rate_limiter"));
    EMBER_TRY(obj.finish());
    return c;
}

Result<DriveUpdate> parse_drive_update(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    DriveUpdate u;
    u.drive_id = EMBER_TRY(obj.required_string("drive_id"));
    u.path_on_host = EMBER_TRY(obj.optional_string("path_on_host"));
    u.rate_limiter = EMBER_TRY(optional_rate_limiter(obj, "rate_limiter"));
    EMBER_TRY(obj.finish());
    return u;
}

Result<NetConfig> parse_net(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    NetConfig c;
    c.iface_id = EMBER_TRY(obj.required_string("iface_id"));
    c.host_dev_name = EMBER_TRY(obj.required_string("host_dev_name"));
    c.guest_mac = EMBER_TRY(obj.optional_string("guest_mac"));
    if (auto mtu = EMBER_TRY(obj.optional_uint("mtu", 65535))) {
        c.mtu = static_cast<uint16_t>(*mtu);
    }
    c.rx_rate_limiter = EMBER_TRY(optional_rate_limiter(obj, "rx_rate_limiter"));
    c.tx_rate_limiter = EMBER_TRY(optional_rate_limiter(obj, "tx_rate_limiter"));
    EMBER_TRY(obj.finish());
    return c;
}

Result<NetUpdate> parse_net_update(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    NetUpdate u;
    u.iface_id = EMBER_TRY(obj.required_string("iface_id"));
    u.rx_rate_limiter = EMBER_TRY(optional_rate_limiter(obj, "rx_rate_limiter"));
    u.tx_rate_limiter = EMBER_TRY(optional_rate_limiter(obj, "tx_rate_limiter"));
    EMBER_TRY(obj.finish());
    return u;
}

Result<LoggerConfig> parse_logger(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    LoggerConfig c;
    c.log_path = EMBER_TRY(obj.optional_string("log_path"));
    c.level = EMBER_TRY(obj.optional_string("level"));
    if (c.level && !log::parse_level(*c.level)) {
        return json_error(obj.path_of("level"),
                          fmt::format("unknown level \"{}\", expected one of Error, Warning, "
                                      "Info, Debug, Trace, Off",
                                      *c.level));
    }
    c.show_level = EMBER_TRY(obj.optional_bool("show_level")).value_or(false);
    c.show_log_origin = EMBER_TRY(obj.optional_bool("show_log_origin")).value_or(false);
    c.module = EMBER_TRY(obj.optional_string("module"));
    EMBER_TRY(obj.finish());
    return c;
}

Result<MetricsConfig> parse_metrics(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    MetricsConfig c;
    c.metrics_path = EMBER_TRY(obj.required_string("metrics_path"));
    if (EMBER_TRY(obj.optional_bool("emit_id")).value_or(false)) {
        return json_error(obj.path_of("emit_id"), "Ember does not support emitting the id");
    }
    if (const rapidjson::Value* p = obj.optional_member("properties")) {
        if (!p->IsObject()) return invalid_type(obj.path_of("properties"), *p, "a map");
        if (p->MemberCount() != 0) {
            return json_error(obj.path_of("properties"),
                              "Ember does not support metrics properties");
        }
    }
    EMBER_TRY(obj.finish());
    return c;
}

Result<SerialConfig> parse_serial(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    SerialConfig c;
    c.serial_out_path = EMBER_TRY(obj.optional_string("serial_out_path"));
    if (const rapidjson::Value* v = obj.optional_member("rate_limiter")) {
        c.rate_limiter = EMBER_TRY(parse_token_bucket(*v, obj.path_of("rate_limiter")));
    }
    EMBER_TRY(obj.finish());
    return c;
}

namespace {

void write_string(JsonWriter& w, const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

// Firecracker (serde) writes an unset Option as null, and the parsers read null as absent, so
// the rendering stays a valid config file.
void write_optional_string(JsonWriter& w, const char* key, const std::optional<std::string>& v) {
    if (v) {
        write_string(w, key, *v);
    } else {
        w.Key(key);
        w.Null();
    }
}

void write_optional_limiter(JsonWriter& w, const char* key,
                            const std::optional<RateLimiterConfig>& v) {
    w.Key(key);
    if (v) {
        write_rate_limiter(w, *v);
    } else {
        w.Null();
    }
}

}  // namespace

void write_token_bucket(JsonWriter& w, const TokenBucketConfig& c) {
    w.StartObject();
    w.Key("size");
    w.Uint64(c.size);
    w.Key("one_time_burst");
    if (c.one_time_burst != 0) {
        w.Uint64(c.one_time_burst);
    } else {
        w.Null();  // Firecracker's None; a burst of 0 means none.
    }
    w.Key("refill_time");
    w.Uint64(c.refill_time_ms);
    w.EndObject();
}

void write_rate_limiter(JsonWriter& w, const RateLimiterConfig& c) {
    w.StartObject();
    for (const auto& [key, bucket] : {std::pair{"bandwidth", &c.bandwidth}, {"ops", &c.ops}}) {
        w.Key(key);
        if (*bucket) {
            write_token_bucket(w, **bucket);
        } else {
            w.Null();
        }
    }
    w.EndObject();
}

void write_boot_source(JsonWriter& w, const BootSourceConfig& c) {
    w.StartObject();
    write_string(w, "kernel_image_path", c.kernel_image_path);
    write_optional_string(w, "initrd_path", c.initrd_path);
    write_optional_string(w, "boot_args", c.boot_args);
    w.EndObject();
}

void write_machine_config(JsonWriter& w, const MachineConfig& c) {
    w.StartObject();
    w.Key("vcpu_count");
    w.Uint(c.vcpu_count);
    w.Key("mem_size_mib");
    w.Uint64(c.mem_size_mib);
    w.Key("smt");
    w.Bool(c.smt);
    if (c.cpu_template) {
        w.Key("cpu_template");
        w.String(cpu_template_name(*c.cpu_template));
    }
    w.Key("track_dirty_pages");
    w.Bool(c.track_dirty_pages);
    w.Key("huge_pages");
    w.String(kHugePages[static_cast<size_t>(c.huge_pages)].data());
    w.EndObject();
}

void write_drive(JsonWriter& w, const DriveConfig& c) {
    w.StartObject();
    write_string(w, "drive_id", c.drive_id);
    write_optional_string(w, "partuuid", c.partuuid);
    w.Key("is_root_device");
    w.Bool(c.is_root_device);
    w.Key("cache_type");
    w.String(kCacheTypes[static_cast<size_t>(c.cache_type)].data());
    w.Key("is_read_only");
    w.Bool(c.is_read_only);
    write_string(w, "path_on_host", c.path_on_host);
    write_optional_limiter(w, "rate_limiter", c.rate_limiter);
    w.Key("io_engine");
    w.String(kIoEngines[static_cast<size_t>(c.io_engine)].data());
    w.Key("socket");  // vhost-user-block, which Ember does not have.
    w.Null();
    w.EndObject();
}

void write_net(JsonWriter& w, const NetConfig& c) {
    w.StartObject();
    write_string(w, "iface_id", c.iface_id);
    write_string(w, "host_dev_name", c.host_dev_name);
    write_optional_string(w, "guest_mac", c.guest_mac);
    w.Key("mtu");  // Firecracker writes null when unset.
    if (c.mtu) {
        w.Uint(*c.mtu);
    } else {
        w.Null();
    }
    write_optional_limiter(w, "rx_rate_limiter", c.rx_rate_limiter);
    write_optional_limiter(w, "tx_rate_limiter", c.tx_rate_limiter);
    w.EndObject();
}

void write_logger(JsonWriter& w, const LoggerConfig& c) {
    w.StartObject();
    write_optional_string(w, "log_path", c.log_path);
    write_optional_string(w, "level", c.level);
    w.Key("show_level");
    w.Bool(c.show_level);
    w.Key("show_log_origin");
    w.Bool(c.show_log_origin);
    write_optional_string(w, "module", c.module);
    w.EndObject();
}

void write_metrics(JsonWriter& w, const MetricsConfig& c) {
    w.StartObject();
    write_string(w, "metrics_path", c.metrics_path);
    w.EndObject();
}

void write_serial(JsonWriter& w, const SerialConfig& c) {
    w.StartObject();
    write_optional_string(w, "serial_out_path", c.serial_out_path);
    if (c.rate_limiter) {
        w.Key("rate_limiter");
        write_token_bucket(w, *c.rate_limiter);
    }
    w.EndObject();
}

}  // namespace ember::api
