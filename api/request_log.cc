#include "api/request_log.h"

#include <fmt/core.h>
#include <rapidjson/document.h>

#include <cctype>
#include <string_view>

#include "api/json/json_reader.h"
#include "vmm/base/log.h"

namespace ember::api {
namespace {

// Rust's Debug of micro_http's Method: "Get", "Put", "Patch".
std::string method_word(const HttpRequest& request) {
    std::string word = request.method_name;
    for (size_t i = 0; i < word.size(); ++i) {
        auto c = static_cast<unsigned char>(word[i]);
        word[i] = static_cast<char>(i == 0 ? std::toupper(c) : std::tolower(c));
    }
    return word;
}

bool has_member(const rapidjson::Document& doc, const char* key) {
    return doc.IsObject() && doc.HasMember(key);
}

}  // namespace

std::string debug_quoted(std::string_view text) {
    std::string out = "\"";
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\0': out += "\\0"; break;
            default:
                if (c < 0x20 || c == 0x7F) {
                    out += fmt::format("\\u{{{:x}}}", c);
                } else {
                    out += ch;
                }
        }
    }
    return out + "\"";
}

std::string describe_request(const HttpRequest& request, bool debug_enabled) {
    std::string head =
        fmt::format("{} request on {}", method_word(request), debug_quoted(request.path));
    if (request.body.empty() || request.path == "/mmds") return head;
    if (request.path == "/cpu-config" && !debug_enabled) {
        return head +
               ". To view the CPU template received by the API, configure log-level to DEBUG";
    }
    // As Firecracker's std::str::from_utf8.
    std::string_view body = to_valid_utf8(request.body) == request.body
                                ? std::string_view(request.body)
                                : std::string_view("inconvertible to UTF-8");
    return fmt::format("{} with body {}", head, debug_quoted(body));
}

std::string describe_outcome(const HttpResponse& response) {
    if (response.status < 400) {
        return fmt::format("The request was executed successfully. Status code: {} {}.",
                           response.status, status_reason(response.status));
    }
    rapidjson::Document doc;
    std::string message = response.body;
    if (parse_json(response.body, doc) && has_member(doc, "fault_message") &&
        doc["fault_message"].IsString()) {
        message = doc["fault_message"].GetString();
    }
    return fmt::format("Received Error. Status code: {} {}. Message: {}", response.status,
                       status_reason(response.status), message);
}

std::optional<std::string> deprecation_message(const HttpRequest& request) {
    const bool put = request.method == HttpMethod::kPut;
    const bool patch = request.method == HttpMethod::kPatch;
    if (request.body.empty() || !(put || patch)) return std::nullopt;
    const bool machine = request.path == "/machine-config";
    const bool load = put && request.path == "/snapshot/load";
    const bool mmds_config = put && request.path == "/mmds/config";
    if (!machine && !load && !mmds_config) return std::nullopt;
    // The client's body: parsed as the router parses it, iteratively and depth-bounded (a
    // recursive parse of a 25,000-deep body took megabytes of the API thread's stack).
    rapidjson::Document doc;
    if (!parse_json(request.body, doc)) return std::nullopt;
    if (machine && has_member(doc, "cpu_template") && !doc["cpu_template"].IsNull()) {
        return fmt::format("{} /machine-config: cpu_template field is deprecated.",
                           put ? "PUT" : "PATCH");
    }
    if (load && has_member(doc, "mem_file_path") && !doc["mem_file_path"].IsNull()) {
        return std::string("PUT /snapshot/load: mem_file_path field is deprecated.");
    }
    // MMDS V1, also the default when no version is given, as Firecracker's parser says.
    if (mmds_config && doc.IsObject() &&
        (!has_member(doc, "version") ||
         (doc["version"].IsString() && std::string_view(doc["version"].GetString()) == "V1"))) {
        return std::string("PUT /mmds/config: V1 is deprecated. Use V2 instead.");
    }
    return std::nullopt;
}

void log_request(const HttpRequest& request) {
    if (!log::enabled(log::Level::kInfo)) return;
    EMBER_INFO("The API server received a {}.",
               describe_request(request, log::enabled(log::Level::kDebug)));
}

void log_outcome(const HttpResponse& response, const std::optional<std::string>& deprecation) {
    if (response.status >= 400) {
        EMBER_ERROR("{}", describe_outcome(response));
    } else {
        EMBER_INFO("{}", describe_outcome(response));
    }
    if (deprecation) EMBER_WARN("{}", *deprecation);
}

}  // namespace ember::api
