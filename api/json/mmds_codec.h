// Firecracker's MmdsConfig schema (PUT /mmds/config, the config file's "mmds-config" and GET
// /vm/config) <-> the MmdsConfig struct. The data store's JSON is not parsed here: the router
// checks only that it is JSON and the store takes it as it is.
#pragma once

#include <string>

#include "api/json/config_codec.h"
#include "vmm/config/vm_config.h"

namespace ember::api {

// network_interfaces (required, iface ids), version ("V1" or "V2", default V1), ipv4_address
// (dotted quad, default 169.254.169.254), imds_compat (default false); nothing else.
Result<MmdsConfig> parse_mmds_config(const rapidjson::Value& value, std::string path);
// As Firecracker's serde: version, imds_compat, network_interfaces, ipv4_address.
void write_mmds_config(JsonWriter& w, const MmdsConfig& c);

}  // namespace ember::api
