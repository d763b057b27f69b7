// Router: maps method + path to a handler that parses the JSON body into vmm/config structs and
// calls the VmmController. Parsing refuses wrong types and shapes; the configuration's rules are
// the controller's to check, once. It never touches VM state itself. Called on the API thread
// (and by the fuzzer directly); keeps no state between requests apart from its counters.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/http/http_message.h"
#include "vmm/config/vmm_controller.h"

namespace ember::api {

// Requests seen per method, for the get/put/patch_api_requests metric groups. Written on the API
// thread, read by whoever flushes metrics.
struct ApiRequestCounters {
    std::atomic<uint64_t> get_count{0};
    std::atomic<uint64_t> put_count{0};
    std::atomic<uint64_t> patch_count{0};
    std::atomic<uint64_t> put_fails{0};
    std::atomic<uint64_t> patch_fails{0};
    std::atomic<uint64_t> deprecated_http_api_calls{0};  // Requests answered with Deprecation.
};

class Router {
public:
    explicit Router(VmmController& controller) : controller_(controller) {}

    HttpResponse handle(const HttpRequest& request);
    const ApiRequestCounters& counters() const { return counters_; }

private:
    HttpResponse route(const HttpRequest& request);
    HttpResponse dispatch(const HttpRequest& request, const std::vector<std::string_view>& parts);
    HttpResponse put_actions(const HttpRequest& request);
    HttpResponse machine_config(const HttpRequest& request);
    HttpResponse drives(const HttpRequest& request, std::string_view id);
    HttpResponse network_interfaces(const HttpRequest& request, std::string_view id);
    HttpResponse patch_vm(const HttpRequest& request);
    HttpResponse mmds_endpoints(const HttpRequest& request,
                                const std::vector<std::string_view>& parts);

    VmmController& controller_;
    ApiRequestCounters counters_;
};

// Firecracker's answer to an unknown path or a method a path does not take.
HttpResponse invalid_path_or_method(const HttpRequest& request);

}  // namespace ember::api
