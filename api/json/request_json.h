// JSON bodies of the API requests that are not part of the VM config (swagger definitions
// InstanceActionInfo, Vm, SnapshotCreateParams, SnapshotLoadParams) and of the GET answers.
#pragma once

#include <string>

#include "api/json/json_reader.h"
#include "vmm/config/vmm_controller.h"

namespace ember::api {

enum class ActionType { kInstanceStart, kSendCtrlAltDel, kFlushMetrics };
enum class VmStateChange { kPause, kResume };

Result<ActionType> parse_action(const rapidjson::Value& value);
Result<VmStateChange> parse_vm_state(const rapidjson::Value& value);
Result<SnapshotCreateParams> parse_snapshot_create(const rapidjson::Value& value);
Result<SnapshotLoadParams> parse_snapshot_load(const rapidjson::Value& value);

// GET /: {"app_name", "id", "state", "vmm_version"}.
std::string render_instance_info(const InstanceInfo& info);
// GET /version: {"firecracker_version"}.
std::string render_version(const std::string& version);
// GET /machine-config.
std::string render_machine_config(const MachineConfig& config);
// {"fault_message": message}, the body of every error answer.
std::string render_fault(std::string_view message);

}  // namespace ember::api
