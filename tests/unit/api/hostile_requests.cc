#include "tests/unit/api/hostile_requests.h"

#include <algorithm>
#include <iterator>

#include "tests/unit/api/raw_http_client.h"

namespace ember::api::testing {

std::string nested_arrays(size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

std::string nested_objects(size_t depth) {
    std::string out;
    for (size_t i = 0; i < depth; ++i) out += "{\"a\":";
    out += "0";
    return out + std::string(depth, '}');
}

std::string body_of_size(size_t size) {
    std::string head = R"({"vcpu_count":1,"mem_size_mib":128,"pad":")";
    std::string tail = R"("})";
    return head + std::string(size - head.size() - tail.size(), 'a') + tail;
}

std::string many_keys(size_t count) {
    std::string body = "{";
    for (size_t i = 0; i < count; ++i) body += i ? ",\"\":0" : "\"\":0";
    return body + "}";
}

std::string pipelined_gets(size_t count) {
    std::string requests;
    for (size_t i = 0; i < count; ++i) requests += http_request("GET", "/", "", false);
    return requests + http_request("GET", "/", "");
}

std::vector<HostileCase> hostile_cases(size_t limit) {
    std::vector<HostileCase> cases;
    auto put = [&](std::string name, const std::string& path, const std::string& body, int status) {
        cases.push_back({std::move(name), http_request("PUT", path, body), {status}});
    };
    put("body at the limit", "/machine-config", body_of_size(limit), 400);
    put("body one byte over the limit", "/machine-config", body_of_size(limit + 1), 400);
    for (size_t depth : {size_t{64}, size_t{512}, size_t{4096}, limit / 2}) {
        put("arrays nested " + std::to_string(depth) + " deep", "/machine-config",
            nested_arrays(depth), 400);
    }
    put("objects nested " + std::to_string(limit / 6) + " deep", "/machine-config",
        nested_objects(limit / 6), 400);
    put("an unclosed nest filling the body", "/machine-config", std::string(limit, '['), 400);
    put("10^4 keys", "/machine-config", many_keys(std::min<size_t>(10000, (limit - 2) / 5)), 400);
    put("invalid UTF-8", "/machine-config",
        "{\"vcpu_count\":1,\"mem_size_mib\":128,\"x\":\"\xff\xfe\xc0\x80\xed\xa0\x80\"}", 400);
    std::string utf8 = "{\"drive_id\":\"";
    while (utf8.size() + 8 < limit - 2) utf8 += "\xc3\x28\xe2\x82";
    put("a drive_id of invalid UTF-8 filling the body", "/drives/x", utf8 + "\"}", 400);
    for (const char* path :
         {"/drives/rootfs", "/boot-source", "/network-interfaces/eth0", "/logger", "/metrics",
          "/mmds", "/snapshot/create", "/vm", "/machine-config", "/actions"}) {
        // An answer, whichever: PUT /mmds takes any object where MMDS is supported.
        put(std::string("a large body on PUT ") + path, path, body_of_size(limit * 3 / 4),
            kAnyStatus);
    }
    HostileCase pipelined{"10^4 pipelined GET /", pipelined_gets(10000), {}};
    pipelined.statuses.assign(10001, 200);
    cases.push_back(std::move(pipelined));
    return cases;
}

bool statuses_match(const std::vector<int>& got, const std::vector<int>& wanted) {
    if (got.size() != wanted.size()) return false;
    for (size_t i = 0; i < got.size(); ++i) {
        if (wanted[i] != kAnyStatus && got[i] != wanted[i]) return false;
    }
    return true;
}

std::string HostileGenerator::connection() {
    std::string out;
    size_t requests = pick({1, 1, 1, 2, 16, 300, 3000});
    for (size_t i = 0; i < requests && out.size() < size_t{4} * 1024 * 1024; ++i) {
        out += request(i + 1 == requests);
    }
    return out;
}

size_t HostileGenerator::below(size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
}

size_t HostileGenerator::pick(std::initializer_list<size_t> choices) {
    return *(choices.begin() + below(choices.size()));
}

std::string HostileGenerator::request(bool last) {
    if (below(10) == 0) return random_bytes(below(70000));
    static const char* const kMethods[] = {"GET", "PUT", "PATCH", "DELETE", "POST"};
    static const char* const kPaths[] = {"/",
                                         "/machine-config",
                                         "/drives/rootfs",
                                         "/boot-source",
                                         "/network-interfaces/eth0",
                                         "/actions",
                                         "/logger",
                                         "/metrics",
                                         "/mmds",
                                         "/vm",
                                         "/snapshot/create",
                                         "/balloon",
                                         "/vm/config",
                                         "/entropy"};
    std::string method = kMethods[below(std::size(kMethods))];
    std::string path = kPaths[below(std::size(kPaths))];
    if (method == "GET") return http_request(method, path, "", last);
    return http_request(method, path, body(), last);
}

std::string HostileGenerator::body() {
    switch (below(6)) {
        case 0: return nest(1 + below(body_limit_ / 2));
        case 1: return keys(below(12000));
        case 2:
            return string_field(pick(
                {100, 4096, 32768, 40000, body_limit_ - 100, body_limit_, body_limit_ + 1, 70000}));
        case 3: return random_bytes(below(body_limit_ + 1000));
        case 4: return mixed(below(8));
        default: return R"({"vcpu_count":1,"mem_size_mib":128})";
    }
}

std::string HostileGenerator::nest(size_t depth) {
    std::string open, close;
    for (size_t i = 0; i < depth && open.size() < body_limit_ / 2; ++i) {
        bool object = below(2) == 0;
        open += object ? "{\"k\":" : "[";
        close.insert(close.begin(), object ? '}' : ']');
    }
    // Sometimes left unclosed or closed wrongly.
    if (below(4) == 0) return open;
    if (below(4) == 0) std::reverse(close.begin(), close.end());
    return open + "0" + close;
}

std::string HostileGenerator::keys(size_t count) {
    std::string out = "{";
    for (size_t i = 0; i < count && out.size() < body_limit_ - 16; ++i) {
        if (i) out += ",";
        out += "\"" + std::to_string(below(3) == 0 ? i : 0) + "\":" + (below(5) == 0 ? "{}" : "1");
    }
    return out + "}";
}

std::string HostileGenerator::string_field(size_t size) {
    std::string head = R"({"drive_id":"rootfs","path_on_host":")";
    std::string tail = R"(","is_root_device":true,"is_read_only":false})";
    size_t fill = size > head.size() + tail.size() ? size - head.size() - tail.size() : 1;
    return head + std::string(fill, static_cast<char>('a' + below(26))) + tail;
}

std::string HostileGenerator::random_bytes(size_t size) {
    std::string out(size, '\0');
    for (char& c : out) c = static_cast<char>(below(256));
    return out;
}

std::string HostileGenerator::mixed(size_t parts) {
    std::string out = "{";
    for (size_t i = 0; i < parts; ++i) {
        if (i) out += ",";
        out += "\"f" + std::to_string(i) + "\":";
        switch (below(4)) {
            case 0: out += nest(1 + below(2000)); break;
            case 1: out += keys(below(1500)); break;
            case 2: out += "\"" + random_bytes(below(3000)) + "\""; break;
            default: out += std::to_string(rng_()); break;
        }
    }
    return out + "}";
}

}  // namespace ember::api::testing
