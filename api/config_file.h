// The whole VM configuration as one JSON document, in Firecracker's schema: the `--config-file`
// reader (with its size and time limits) and the GET /vm/config writer. Each object in it goes
// through api/json/config_codec.h. Unknown keys and wrong types are errors that name the key.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "vmm/base/result.h"
#include "vmm/config/vm_config.h"

namespace ember::api {

// The largest --config-file Ember reads: far above any real one (a VM with 100 drives and
// 100 network interfaces takes ~60 KiB), and small enough to read and parse in milliseconds.
// Firecracker sets no limit (std::fs::read_to_string).
inline constexpr size_t kMaxConfigFileBytes = size_t{4} << 20;
// How long the writer of a FIFO given as --config-file (e.g. bash's `<(...)`) has to write the
// whole file and close it.
inline constexpr std::chrono::milliseconds kConfigFifoTimeout{10'000};

// A whole config file: `boot-source`, `machine-config`, `drives`, `network-interfaces`, `logger`,
// `metrics`, `serial`...; keys of devices Ember lacks are refused with a message saying so. Only
// parsed (and the file `cpu-config` names read): the configuration's rules are checked once, by
// the VMM that takes it (VmmController's configure path), as for API requests.
Result<VmConfig> parse_vm_config(std::string_view json);
// The configuration as a config file: the same schema, so the output fed back as a config file
// builds the same VM (logger, metrics and serial included).
std::string render_vm_config(const VmConfig& config);
// GET /vm/config: Firecracker's FullVmConfiguration (its VmmConfig, serialized by serde), key
// for key and in its order: null for what is unset or not carried (logger, metrics, devices
// Ember lacks), no keys outside the schema (no serial).
std::string render_full_vm_config(const VmConfig& config);

}  // namespace ember::api
