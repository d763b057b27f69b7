#include "api/json/mmds_codec.h"

#include <fmt/core.h>

#include <string_view>

namespace ember::api {
namespace {

// Rust's Ipv4Addr syntax: four decimal octets of 1 to 3 digits, no leading zeros, nothing else.
std::optional<std::array<uint8_t, 4>> parse_ipv4(std::string_view text) {
    std::array<uint8_t, 4> ip{};
    size_t pos = 0;
    for (size_t i = 0; i < ip.size(); ++i) {
        if (i > 0) {
            if (pos >= text.size() || text[pos] != '.') return std::nullopt;
            ++pos;
        }
        size_t start = pos;
        unsigned value = 0;
        while (pos < text.size() && pos - start < 3 && text[pos] >= '0' && text[pos] <= '9') {
            value = value * 10 + static_cast<unsigned>(text[pos] - '0');
            ++pos;
        }
        size_t digits = pos - start;
        if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) return std::nullopt;
        ip[i] = static_cast<uint8_t>(value);
    }
    if (pos != text.size()) return std::nullopt;
    return ip;
}

constexpr const char* kInterfaces = "network_interfaces";

Result<std::vector<std::string>> parse_interfaces(const JsonObject& obj,
                                                  const rapidjson::Value* v) {
    constexpr const char* kKey = kInterfaces;
    if (!v->IsArray()) return invalid_type(obj.path_of(kKey), *v, "a sequence");
    std::vector<std::string> ifaces;
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
        const rapidjson::Value& id = (*v)[i];
        if (!id.IsString()) {
            return invalid_type(fmt::format("{}[{}]", obj.path_of(kKey), i), id, "a string");
        }
        ifaces.emplace_back(id.GetString(), id.GetStringLength());
    }
    return ifaces;
}

}  // namespace

Result<MmdsConfig> parse_mmds_config(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    MmdsConfig c;
    // As serde: a wrong type or an unknown field before the end wins over a missing field.
    const rapidjson::Value* ifaces = obj.optional_member(kInterfaces);
    if (ifaces) c.network_interfaces = EMBER_TRY(parse_interfaces(obj, ifaces));
    if (auto version = EMBER_TRY(obj.optional_string("version"))) {
        if (*version == "V1") {
            c.version = MmdsVersion::kV1;
        } else if (*version == "V2") {
            c.version = MmdsVersion::kV2;
        } else {
            return json_error(obj.path_of("version"),
                              fmt::format("unknown variant `{}`, expected `V1` or `V2`", *version));
        }
    }
    if (auto ip = EMBER_TRY(obj.optional_string("ipv4_address"))) {
        std::optional<std::array<uint8_t, 4>> parsed = parse_ipv4(*ip);
        if (!parsed) return json_error(obj.path_of("ipv4_address"), "invalid IPv4 address syntax");
        c.ipv4_address = *parsed;
    }
    c.imds_compat = EMBER_TRY(obj.optional_bool("imds_compat")).value_or(false);
    EMBER_TRY(obj.finish());
    if (!ifaces) {
        return json_error(obj.path_of(kInterfaces), fmt::format("missing field `{}`", kInterfaces));
    }
    return c;
}

void write_mmds_config(JsonWriter& w, const MmdsConfig& c) {
    w.StartObject();
    w.Key("version");
    w.String(c.version == MmdsVersion::kV2 ? "V2" : "V1");
    w.Key("imds_compat");
    w.Bool(c.imds_compat);
    w.Key("network_interfaces");
    w.StartArray();
    for (const std::string& id : c.network_interfaces)
        w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
    w.EndArray();
    w.Key("ipv4_address");
    const auto& ip = c.ipv4_address;
    std::string text = fmt::format("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
    w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
    w.EndObject();
}

}  // namespace ember::api
