#include "api/json/cpu_config_codec.h"

#include <fmt/core.h>

#include <limits>

namespace ember::api {
namespace {

constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
constexpr std::pair<std::string_view, CpuidRegister> kRegisters[] = {
    {"eax", CpuidRegister::kEax},
    {"ebx", CpuidRegister::kEbx},
    {"ecx", CpuidRegister::kEcx},
    {"edx", CpuidRegister::kEdx},
};

// The cpu_config layer's parse errors, under the JSON path they came from.
template <typename T>
Result<T> at(std::string path, Result<T> r) {
    if (!r) return json_error(path, r.error().detail());
    return r;
}

// The array at `key` (empty when absent), each element read by `parse(element, path)`.
template <typename T>
Result<std::vector<T>> parse_array(JsonObject& obj, const char* key,
                                   Result<T> (*parse)(const rapidjson::Value&, std::string)) {
    std::vector<T> out;
    const rapidjson::Value* v = obj.optional_member(key);
    if (!v) return out;
    const std::string path = obj.path_of(key);
    if (!v->IsArray()) return invalid_type(path, *v, "a sequence");
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
        out.push_back(EMBER_TRY(parse((*v)[i], fmt::format("{}[{}]", path, i))));
    }
    return out;
}

Result<KvmCapabilityChange> parse_capability(const rapidjson::Value& value, std::string path) {
    if (!value.IsString()) return invalid_type(path, value, "a string");
    return at(std::move(path), parse_kvm_capability({value.GetString(), value.GetStringLength()}));
}

Result<uint32_t> number_field(JsonObject& obj, const char* key) {
    const std::string text = EMBER_TRY(obj.required_string(key));
    return static_cast<uint32_t>(
        EMBER_TRY(at(obj.path_of(key), parse_template_number(text, kMaxU32))));
}

Result<BitFilter<uint64_t>> bitmap_field(JsonObject& obj, unsigned bits) {
    const std::string text = EMBER_TRY(obj.required_string("bitmap"));
    return at(obj.path_of("bitmap"), parse_bitmap(text, bits));
}

Result<CpuidRegisterModifier> parse_register_modifier(const rapidjson::Value& value,
                                                      std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    CpuidRegisterModifier m;
    const std::string name = EMBER_TRY(obj.required_string("register"));
    bool known = false;
    for (const auto& [text, reg] : kRegisters) {
        if (name == text) {
            m.reg = reg;
            known = true;
        }
    }
    if (!known) {
        return json_error(obj.path_of("register"),
                          "Invalid CPUID register. Must be one of [eax, ebx, ecx, edx]");
    }
    const BitFilter<uint64_t> bitmap = EMBER_TRY(bitmap_field(obj, 32));
    m.bitmap = {static_cast<uint32_t>(bitmap.filter), static_cast<uint32_t>(bitmap.value)};
    return m;
}

Result<CpuidLeafModifier> parse_leaf_modifier(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    CpuidLeafModifier m;
    m.leaf = EMBER_TRY(number_field(obj, "leaf"));
    m.subleaf = EMBER_TRY(number_field(obj, "subleaf"));
    m.flags = static_cast<uint32_t>(EMBER_TRY(obj.required_uint("flags", kMaxU32)));
    if (!obj.has("modifiers"))
        return json_error(obj.path_of("modifiers"), "missing field `modifiers`");
    m.modifiers = EMBER_TRY(parse_array(obj, "modifiers", parse_register_modifier));
    return m;
}

Result<MsrModifier> parse_msr_modifier(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    MsrModifier m;
    m.addr = EMBER_TRY(number_field(obj, "addr"));
    m.bitmap = EMBER_TRY(bitmap_field(obj, 64));
    return m;
}

}  // namespace

Result<CpuConfig> parse_cpu_config(const rapidjson::Value& value, std::string path) {
    JsonObject obj = EMBER_TRY(JsonObject::from(value, std::move(path)));
    CpuConfig c;
    c.kvm_capabilities = EMBER_TRY(parse_array(obj, "kvm_capabilities", parse_capability));
    c.cpuid_modifiers = EMBER_TRY(parse_array(obj, "cpuid_modifiers", parse_leaf_modifier));
    c.msr_modifiers = EMBER_TRY(parse_array(obj, "msr_modifiers", parse_msr_modifier));
    EMBER_TRY(obj.finish());
    return c;
}

}  // namespace ember::api
