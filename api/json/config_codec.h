// Firecracker's per-object JSON schemas (swagger definitions) <-> vmm/config structs. Shared by
// the API request bodies and the config file, so both accept exactly the same fields.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

#include "api/json/json_reader.h"
#include "vmm/config/vm_config.h"

namespace ember::api {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Each parser reads `value` as the object at `path` ("" for a request body).
Result<TokenBucketConfig> parse_token_bucket(const rapidjson::Value& value, std::string path);
Result<RateLimiterConfig> parse_rate_limiter(const rapidjson::Value& value, std::string path);
Result<BootSourceConfig> parse_boot_source(const rapidjson::Value& value, std::string path);
// PUT /machine-config and the config file: vcpu_count and mem_size_mib are required.
Result<MachineConfig> parse_machine_config(const rapidjson::Value& value, std::string path);
// PATCH /machine-config: every field optional, applied over `current`; cpu_template is set only
// when the request names it.
Result<MachineConfig> parse_machine_config_patch(const rapidjson::Value& value, std::string path,
                                                 MachineConfig current);
Result<DriveConfig> parse_drive(const rapidjson::Value& value, std::string path);
Result<DriveUpdate> parse_drive_update(const rapidjson::Value& value, std::string path);
Result<NetConfig> parse_net(const rapidjson::Value& value, std::string path);
Result<NetUpdate> parse_net_update(const rapidjson::Value& value, std::string path);
Result<LoggerConfig> parse_logger(const rapidjson::Value& value, std::string path);
Result<MetricsConfig> parse_metrics(const rapidjson::Value& value, std::string path);
Result<SerialConfig> parse_serial(const rapidjson::Value& value, std::string path);

void write_token_bucket(JsonWriter& w, const TokenBucketConfig& c);
void write_rate_limiter(JsonWriter& w, const RateLimiterConfig& c);
void write_boot_source(JsonWriter& w, const BootSourceConfig& c);
void write_machine_config(JsonWriter& w, const MachineConfig& c);
void write_drive(JsonWriter& w, const DriveConfig& c);
void write_net(JsonWriter& w, const NetConfig& c);
void write_logger(JsonWriter& w, const LoggerConfig& c);
void write_metrics(JsonWriter& w, const MetricsConfig& c);
void write_serial(JsonWriter& w, const SerialConfig& c);

}  // namespace ember::api
