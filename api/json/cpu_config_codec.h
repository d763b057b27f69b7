// Firecracker's CustomCpuTemplate JSON (swagger CpuConfig, x86_64 fields) -> CpuConfig: the body
// of PUT /cpu-config and the file the config file's "cpu-config" names. Unknown top-level keys
// are refused (reg_modifiers and vcpu_features are aarch64's), unknown keys inside a modifier
// ignored, as Firecracker's serde does.
#pragma once

#include <string>

#include "api/json/json_reader.h"
#include "vmm/config/cpu_config.h"

namespace ember::api {

Result<CpuConfig> parse_cpu_config(const rapidjson::Value& value, std::string path);

}  // namespace ember::api
