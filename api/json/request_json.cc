#include "api/json/request_json.h"

#include <fmt/core.h>

#include "api/json/config_codec.h"

namespace ember::api {
namespace {

std::string finish_buffer(const rapidjson::StringBuffer& buffer) {
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::string_view state_name(VmState state) {
    switch (state) {
        case VmState::kNotStarted: return "Not started";
        case VmState::kRunning: return "Running";
        case VmState::kPaused: return "Paused";
    }
    return "Not started";
}

}  // namespace

Result<ActionType> parse_action(const rapidjson::Value& value) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, ""));
    std::string type = EMBER_TRY(obj.required_string("action_type"));
    EMBER_TRY(obj.finish());
    if (type == "InstanceStart") return ActionType::kInstanceStart;
    if (type == "SendCtrlAltDel") return ActionType::kSendCtrlAltDel;
    if (type == "FlushMetrics") return ActionType::kFlushMetrics;
    // In the order of Firecracker's ActionType, as serde names them.
    static constexpr std::string_view kActions[] = {"FlushMetrics", "InstanceStart",
                                                    "SendCtrlAltDel"};
    return json_error("action_type", unknown_variant(type, kActions));
}

Result<VmStateChange> parse_vm_state(const rapidjson::Value& value) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, ""));
    std::string state = EMBER_TRY(obj.required_string("state"));
    EMBER_TRY(obj.finish());
    if (state == "Paused") return VmStateChange::kPause;
    if (state == "Resumed") return VmStateChange::kResume;
    static constexpr std::string_view kStates[] = {"Paused", "Resumed"};
    return json_error("state", unknown_variant(state, kStates));
}

Result<SnapshotCreateParams> parse_snapshot_create(const rapidjson::Value& value) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, ""));
    SnapshotCreateParams p;
    p.snapshot_path = EMBER_TRY(obj.required_string("snapshot_path"));
    p.mem_file_path = EMBER_TRY(obj.required_string("mem_file_path"));
    if (auto type = EMBER_TRY(obj.optional_string("snapshot_type"))) {
        if (*type == "Full") {
            p.type = SnapshotType::kFull;
        } else if (*type == "Diff") {
            p.type = SnapshotType::kDiff;
        } else {
            static constexpr std::string_view kTypes[] = {"Full", "Diff"};
            return json_error("snapshot_type", unknown_variant(*type, kTypes));
        }
    }
    EMBER_TRY(obj.finish());
    return p;
}

Result<SnapshotLoadParams> parse_snapshot_load(const rapidjson::Value& value) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, ""));
    SnapshotLoadParams p;
    p.snapshot_path = EMBER_TRY(obj.required_string("snapshot_path"));
    auto mem_file_path = EMBER_TRY(obj.optional_string("mem_file_path"));
    const rapidjson::Value* backend = obj.optional_member("mem_backend");
    // Firecracker's words (api_server/request/snapshot.rs).
    if (backend && mem_file_path) {
        return json_error("mem_backend",
                          "too many fields: either `mem_backend` or `mem_file_path` exclusively "
                          "is required.");
    }
    if (!backend && !mem_file_path) {
        return json_error("mem_backend",
                          "missing field: either `mem_backend` or `mem_file_path` is required.");
    }
    if (mem_file_path) {
        p.backend_type = MemBackendType::kFile;
        p.backend_path = std::move(*mem_file_path);
    } else {
        JsonObject b = EMBER_TRY(JsonObject::from(*backend, "mem_backend"));
        std::string type = EMBER_TRY(b.required_string("backend_type"));
        p.backend_path = EMBER_TRY(b.required_string("backend_path"));
        p.working_set_path = EMBER_TRY(b.optional_string("working_set_path"));
        EMBER_TRY(b.finish());
        if (type == "File") {
            p.backend_type = MemBackendType::kFile;
        } else if (type == "Uffd") {
            p.backend_type = MemBackendType::kUffd;
        } else {
            static constexpr std::string_view kBackends[] = {"File", "Uffd"};
            return json_error("mem_backend.backend_type", unknown_variant(type, kBackends));
        }
        // Ember's extension. Refused here, where a refusal leaves the process usable.
        if (p.working_set_path && p.backend_type != MemBackendType::kFile) {
            return json_error("mem_backend.working_set_path",
                              "working_set_path is for the File backend; a Uffd handler takes "
                              "the record itself (ember-uffd-handler --prefetch)");
        }
        if (p.working_set_path && p.working_set_path->empty()) {
            return json_error("mem_backend.working_set_path", "working_set_path must not be empty");
        }
    }
    auto track = EMBER_TRY(obj.optional_bool("track_dirty_pages"));
    auto diff = EMBER_TRY(obj.optional_bool("enable_diff_snapshots"));  // Deprecated alias.
    p.track_dirty_pages = track.value_or(false) || diff.value_or(false);
    p.resume_vm = EMBER_TRY(obj.optional_bool("resume_vm")).value_or(false);
    if (const rapidjson::Value* list = obj.optional_member("network_overrides")) {
        if (!list->IsArray()) return invalid_type("network_overrides", *list, "a sequence");
        for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
            JsonObject o =
                EMBER_TRY(JsonObject::from((*list)[i], fmt::format("network_overrides[{}]", i)));
            NetworkOverride n;
            n.iface_id = EMBER_TRY(o.required_string("iface_id"));
            n.host_dev_name = EMBER_TRY(o.required_string("host_dev_name"));
            EMBER_TRY(o.finish());
            p.network_overrides.push_back(std::move(n));
        }
    }
    if (const rapidjson::Value* list = obj.optional_member("drive_overrides")) {
        if (!list->IsArray()) return invalid_type("drive_overrides", *list, "a sequence");
        for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
            JsonObject o =
                EMBER_TRY(JsonObject::from((*list)[i], fmt::format("drive_overrides[{}]", i)));
            DriveOverride d;
            d.drive_id = EMBER_TRY(o.required_string("drive_id"));
            d.path_on_host = EMBER_TRY(o.required_string("path_on_host"));
            EMBER_TRY(o.finish());
            p.drive_overrides.push_back(std::move(d));
        }
    }
    if (obj.has("vsock_override")) {
        return json_error("vsock_override", "Ember does not support vsock devices");
    }
    obj.accept("vsock_override");
    p.clock_realtime = EMBER_TRY(obj.optional_bool("clock_realtime")).value_or(false);
    if (auto huge = EMBER_TRY(obj.optional_string("huge_pages")); huge && *huge != "Snapshot") {
        return json_error("huge_pages", "Ember does not support overriding huge pages on restore");
    }
    EMBER_TRY(obj.finish());
    return p;
}

std::string render_instance_info(const InstanceInfo& info) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    w.Key("app_name");
    w.String(info.app_name.c_str(), static_cast<rapidjson::SizeType>(info.app_name.size()));
    w.Key("id");
    w.String(info.id.c_str(), static_cast<rapidjson::SizeType>(info.id.size()));
    w.Key("state");
    std::string_view state = state_name(info.state);
    w.String(state.data(), static_cast<rapidjson::SizeType>(state.size()));
    w.Key("vmm_version");
    w.String(info.vmm_version.c_str(), static_cast<rapidjson::SizeType>(info.vmm_version.size()));
    w.EndObject();
    return finish_buffer(buffer);
}

std::string render_version(const std::string& version) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    w.Key("firecracker_version");
    w.String(version.c_str(), static_cast<rapidjson::SizeType>(version.size()));
    w.EndObject();
    return finish_buffer(buffer);
}

std::string render_machine_config(const MachineConfig& config) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    write_machine_config(w, config);
    return finish_buffer(buffer);
}

std::string render_fault(std::string_view message) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    w.Key("fault_message");
    // A message may quote bytes from outside (a request path, a file name) that are not UTF-8.
    const std::string text = to_valid_utf8(message);
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    w.EndObject();
    return finish_buffer(buffer);
}

}  // namespace ember::api
