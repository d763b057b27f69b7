#include "api/router.h"

#include <fmt/core.h>

#include <chrono>
#include <optional>

#include "api/config_file.h"
#include "api/error_status.h"
#include "api/json/config_codec.h"
#include "api/json/cpu_config_codec.h"
#include "api/json/mmds_codec.h"
#include "api/json/request_json.h"
#include "api/request_log.h"
#include "vmm/base/log.h"

namespace ember::api {
namespace {

// Paths of devices Ember lacks, by first segment, with the words for the answer.
constexpr std::pair<std::string_view, std::string_view> kUnsupportedPaths[] = {
    {"balloon", "balloon devices"}, {"vsock", "vsock devices"},    {"entropy", "entropy devices"},
    {"pmem", "pmem devices"},       {"hotplug", "memory hotplug"},
};

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    size_t pos = 0;
    while (pos < path.size()) {
        if (path[pos] == '/') {
            ++pos;
            continue;
        }
        size_t end = path.find('/', pos);
        if (end == std::string_view::npos) end = path.size();
        parts.push_back(path.substr(pos, end - pos));
        pos = end;
    }
    return parts;
}

// Every error answer, the router's own included, gets its status from the kind's table.
HttpResponse fault(ErrorKind kind, std::string_view message) {
    return HttpResponse::fault(message, http_status(kind));
}

HttpResponse from_error(const Error& error) { return fault(error.kind(), describe(error)); }

HttpResponse from_result(const Result<void>& result) {
    return result ? HttpResponse::no_content() : from_error(result.error());
}

// An error about the body in Firecracker's words (its prefix, serde's text and position).
Error body_error(const Error& error, const HttpRequest& request) {
    return Error::invalid(kRequestErrorContext, describe_body_error(error, request.body))
        .with_kind(error.kind());
}

// Parses the request body as JSON and hands it to `parse` (a function of the value).
template <typename Parse>
auto parse_body(const HttpRequest& request, Parse parse) -> decltype(parse(rapidjson::Value())) {
    rapidjson::Document doc;
    if (Result<void> json = parse_json(request.body, doc); !json) {
        return body_error(json.error(), request);
    }
    auto parsed = parse(static_cast<const rapidjson::Value&>(doc));
    if (!parsed) return body_error(parsed.error(), request);
    return parsed;
}

template <typename T>
Result<T> parse_object(const HttpRequest& request,
                       Result<T> (*parse)(const rapidjson::Value&, std::string)) {
    return parse_body(request, [&](const rapidjson::Value& v) { return parse(v, ""); });
}

// The id in the path names the object of the body; the id's own rules are the VMM's to check,
// with the rest of the configuration.
Result<void> check_path_id(std::string_view path_id, const std::string& body_id) {
    if (body_id != path_id) {
        return Error::invalid(kRequestErrorContext,
                              "The id from the path does not match the id from the body!");
    }
    return ok();
}

}  // namespace

HttpResponse invalid_path_or_method(const HttpRequest& request) {
    // As parsed_request.rs: Firecracker names the first segment of the path, without its slash
    // ("GET nothing."), except under /snapshot, where it names the whole path.
    std::vector<std::string_view> parts = split_path(request.path);
    std::string what = parts.empty() ? std::string() : std::string(parts[0]);
    if (parts.size() >= 2 && parts[0] == "snapshot") what = fmt::format("/snapshot/{}", parts[1]);
    return fault(ErrorKind::kInvalidInput, fmt::format("Invalid request method and/or path: {} {}.",
                                                       request.method_name, what));
}

HttpResponse Router::handle(const HttpRequest& request) {
    // Firecracker's lines around each request, and its Deprecation header.
    const auto start = std::chrono::steady_clock::now();
    log_request(request);
    std::optional<std::string> deprecation = deprecation_message(request);
    HttpResponse response = route(request);
    response.deprecated = deprecation.has_value();
    if (response.deprecated) counters_.deprecated_http_api_calls++;
    log_outcome(response, deprecation);
    EMBER_DEBUG("Total previous API call duration: {} us.",
                std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count());
    return response;
}

HttpResponse Router::route(const HttpRequest& request) {
    switch (request.method) {
        case HttpMethod::kGet: counters_.get_count++; break;
        case HttpMethod::kPut: counters_.put_count++; break;
        case HttpMethod::kPatch: counters_.patch_count++; break;
        case HttpMethod::kOther: break;
    }
    std::vector<std::string_view> parts = split_path(request.path);
    if (!parts.empty()) {
        for (const auto& [segment, what] : kUnsupportedPaths) {
            if (parts[0] == segment) {
                return fault(ErrorKind::kUnsupported,
                             fmt::format("Ember does not support {}.", what));
            }
        }
    }
    if (request.method == HttpMethod::kGet && !request.body.empty()) {
        return fault(ErrorKind::kInvalidInput, "GET request cannot have a body.");
    }
    if ((request.method == HttpMethod::kPut || request.method == HttpMethod::kPatch) &&
        request.body.empty()) {
        return fault(ErrorKind::kInvalidInput,
                     fmt::format("Empty {} request.", request.method_name));
    }
    HttpResponse response = dispatch(request, parts);
    if (response.status >= 400) {
        if (request.method == HttpMethod::kPut) counters_.put_fails++;
        if (request.method == HttpMethod::kPatch) counters_.patch_fails++;
    }
    return response;
}

HttpResponse Router::dispatch(const HttpRequest& request,
                              const std::vector<std::string_view>& parts) {
    const HttpMethod m = request.method;
    if (parts.empty()) {
        if (m == HttpMethod::kGet) {
            return HttpResponse::json(render_instance_info(controller_.instance_info()));
        }
        return invalid_path_or_method(request);
    }
    const std::string_view head = parts[0];
    if (head == "mmds") return mmds_endpoints(request, parts);
    if (parts.size() == 1) {
        if (head == "version" && m == HttpMethod::kGet) {
            return HttpResponse::json(render_version(controller_.instance_info().vmm_version));
        }
        if (head == "actions" && m == HttpMethod::kPut) return put_actions(request);
        if (head == "machine-config") return machine_config(request);
        if (head == "vm" && m == HttpMethod::kPatch) return patch_vm(request);
        if ((head == "drives" || head == "network-interfaces") &&
            (m == HttpMethod::kPut || m == HttpMethod::kPatch)) {
            return fault(ErrorKind::kInvalidInput,
                         "The ID cannot be empty.");  // RequestError::EmptyID
        }
        if (m == HttpMethod::kPut) {
            if (head == "boot-source") {
                auto c = parse_object(request, parse_boot_source);
                return c ? from_result(controller_.set_boot_source(*c)) : from_error(c.error());
            }
            if (head == "logger") {
                auto c = parse_object(request, parse_logger);
                return c ? from_result(controller_.set_logger(*c)) : from_error(c.error());
            }
            if (head == "metrics") {
                auto c = parse_object(request, parse_metrics);
                return c ? from_result(controller_.set_metrics(*c)) : from_error(c.error());
            }
            if (head == "serial") {
                auto c = parse_object(request, parse_serial);
                return c ? from_result(controller_.set_serial(*c)) : from_error(c.error());
            }
            if (head == "cpu-config") {
                auto c = parse_object(request, parse_cpu_config);
                return c ? from_result(controller_.set_cpu_config(*c)) : from_error(c.error());
            }
        }
    }
    if (parts.size() == 2) {
        if (head == "drives") return drives(request, parts[1]);
        if (head == "network-interfaces") return network_interfaces(request, parts[1]);
        if (head == "vm" && parts[1] == "config" && m == HttpMethod::kGet) {
            return HttpResponse::json(render_full_vm_config(controller_.vm_config()));
        }
        if (head == "snapshot" && m == HttpMethod::kPut) {
            if (parts[1] == "create") {
                auto p = parse_body(request, parse_snapshot_create);
                return p ? from_result(controller_.create_snapshot(*p)) : from_error(p.error());
            }
            if (parts[1] == "load") {
                auto p = parse_body(request, parse_snapshot_load);
                return p ? from_result(controller_.load_snapshot(*p)) : from_error(p.error());
            }
        }
    }
    return invalid_path_or_method(request);
}

HttpResponse Router::put_actions(const HttpRequest& request) {
    auto action = parse_body(request, parse_action);
    if (!action) return from_error(action.error());
    switch (*action) {
        case ActionType::kInstanceStart: return from_result(controller_.start());
        case ActionType::kSendCtrlAltDel: return from_result(controller_.send_ctrl_alt_del());
        case ActionType::kFlushMetrics: return from_result(controller_.flush_metrics());
    }
    return invalid_path_or_method(request);
}

HttpResponse Router::machine_config(const HttpRequest& request) {
    Result<MachineConfig> config = Error::invalid(kJsonErrorContext);
    switch (request.method) {
        case HttpMethod::kGet:
            return HttpResponse::json(render_machine_config(controller_.vm_config().machine));
        case HttpMethod::kPut: config = parse_object(request, parse_machine_config); break;
        case HttpMethod::kPatch: {
            MachineConfig current = controller_.vm_config().machine;
            config = parse_body(request, [&](const rapidjson::Value& v) {
                return parse_machine_config_patch(v, "", current);
            });
            break;
        }
        case HttpMethod::kOther: return invalid_path_or_method(request);
    }
    if (!config) return from_error(config.error());
    return from_result(controller_.set_machine_config(*config));
}

HttpResponse Router::drives(const HttpRequest& request, std::string_view id) {
    if (request.method == HttpMethod::kPut) {
        auto c = parse_object(request, parse_drive);
        if (!c) return from_error(c.error());
        if (auto r = check_path_id(id, c->drive_id); !r) return from_error(r.error());
        return from_result(controller_.put_drive(*c));
    }
    if (request.method == HttpMethod::kPatch) {
        auto u = parse_object(request, parse_drive_update);
        if (!u) return from_error(u.error());
        if (auto r = check_path_id(id, u->drive_id); !r) return from_error(r.error());
        return from_result(controller_.patch_drive(*u));
    }
    return invalid_path_or_method(request);
}

HttpResponse Router::network_interfaces(const HttpRequest& request, std::string_view id) {
    if (request.method == HttpMethod::kPut) {
        auto c = parse_object(request, parse_net);
        if (!c) return from_error(c.error());
        if (auto r = check_path_id(id, c->iface_id); !r) return from_error(r.error());
        return from_result(controller_.put_net(*c));
    }
    if (request.method == HttpMethod::kPatch) {
        auto u = parse_object(request, parse_net_update);
        if (!u) return from_error(u.error());
        if (auto r = check_path_id(id, u->iface_id); !r) return from_error(r.error());
        return from_result(controller_.patch_net(*u));
    }
    return invalid_path_or_method(request);
}

HttpResponse Router::patch_vm(const HttpRequest& request) {
    auto state = parse_body(request, parse_vm_state);
    if (!state) return from_error(state.error());
    return from_result(*state == VmStateChange::kPause ? controller_.pause()
                                                       : controller_.resume());
}

// Firecracker's /mmds: the data store in every phase (the VMM checks it is an object within the
// size limit; here only that it is JSON), /mmds/config before boot.
HttpResponse Router::mmds_endpoints(const HttpRequest& request,
                                    const std::vector<std::string_view>& parts) {
    const HttpMethod m = request.method;
    if (parts.size() == 1) {
        if (m == HttpMethod::kGet) {
            Result<std::string> store = controller_.get_mmds();
            return store ? HttpResponse::json(std::move(*store)) : from_error(store.error());
        }
        if (m != HttpMethod::kPut && m != HttpMethod::kPatch)
            return invalid_path_or_method(request);
        rapidjson::Document doc;
        if (Result<void> json = parse_json(request.body, doc); !json)
            return from_error(body_error(json.error(), request));
        return from_result(m == HttpMethod::kPut ? controller_.put_mmds(request.body)
                                                 : controller_.patch_mmds(request.body));
    }
    if (parts.size() == 2 && m == HttpMethod::kPut) {
        if (parts[1] != "config") {
            return fault(ErrorKind::kInvalidInput,
                         fmt::format("Unrecognized PUT request path `{}`.", parts[1]));
        }
        auto c = parse_object(request, parse_mmds_config);
        return c ? from_result(controller_.set_mmds_config(*c)) : from_error(c.error());
    }
    return invalid_path_or_method(request);
}

}  // namespace ember::api
