// JSON <-> configuration structs, in Firecracker's schema. Used by the API for request bodies and
// by `--config-file`. Unknown keys and wrong types are errors that name the offending key.
#pragma once

#include <string>
#include <string_view>

#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"

namespace ember::api {

// A whole config file: `boot-source`, `machine-config`, `drives`, `network-interfaces`, `logger`,
// `metrics`, `serial`...; keys of devices Ember lacks are refused with a message saying so.
Result<VmConfig> parse_vm_config(std::string_view json);
// GET /vm/config: the same schema, so the output fed back as a config file builds the same VM.
std::string render_vm_config(const VmConfig& config);

}  // namespace ember::api
