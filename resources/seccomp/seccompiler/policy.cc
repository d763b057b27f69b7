#include "resources/seccomp/seccompiler/policy.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

namespace ember::seccompiler {
namespace {

using rapidjson::Value;

// "allow", "trap", "kill" (the whole process), "kill_thread", "log", {"errno": N}, {"trace": N}.
Result<uint32_t> parse_action(const Value& v, const std::string& where) {
    if (v.IsString()) {
        std::string_view s(v.GetString(), v.GetStringLength());
        if (s == "allow") return SCMP_ACT_ALLOW;
        if (s == "trap") return SCMP_ACT_TRAP;
        if (s == "kill" || s == "kill_process") return SCMP_ACT_KILL_PROCESS;
        if (s == "kill_thread") return SCMP_ACT_KILL_THREAD;
        if (s == "log") return SCMP_ACT_LOG;
    } else if (v.IsObject() && v.MemberCount() == 1) {
        const auto& m = *v.MemberBegin();
        std::string_view key(m.name.GetString(), m.name.GetStringLength());
        if (m.value.IsUint() && m.value.GetUint() <= 0xffff) {
            if (key == "errno") return SCMP_ACT_ERRNO(m.value.GetUint());
            if (key == "trace") return SCMP_ACT_TRACE(m.value.GetUint());
        }
    }
    return Error::invalid("seccomp policy: bad action", where);
}

Result<uint64_t> parse_value(const Value& v, const std::string& where) {
    if (v.IsUint64()) return v.GetUint64();
    if (v.IsInt64()) return static_cast<uint64_t>(v.GetInt64());
    if (v.IsString()) {
        auto value = resolve_value(std::string_view(v.GetString(), v.GetStringLength()));
        if (value) return *value;
    }
    return Error::invalid("seccomp policy: bad value", where);
}

Result<ArgCheck> parse_arg(const Value& v, const std::string& where) {
    if (!v.IsObject()) return Error::invalid("seccomp policy: arg is not an object", where);
    ArgCheck check;
    auto index = v.FindMember("index");
    if (index == v.MemberEnd() || !index->value.IsUint() || index->value.GetUint() > 5) {
        return Error::invalid("seccomp policy: arg index must be 0..5", where);
    }
    check.index = index->value.GetUint();
    auto type = v.FindMember("type");
    if (type == v.MemberEnd() || !type->value.IsString()) {
        return Error::invalid("seccomp policy: arg type must be dword or qword", where);
    }
    std::string_view type_name = type->value.GetString();
    if (type_name != "dword" && type_name != "qword") {
        return Error::invalid("seccomp policy: arg type must be dword or qword", where);
    }
    check.dword = type_name == "dword";
    auto val = v.FindMember("val");
    if (val == v.MemberEnd()) return Error::invalid("seccomp policy: arg without val", where);
    check.value = EMBER_TRY(parse_value(val->value, where));
    auto op = v.FindMember("op");
    if (op == v.MemberEnd()) return Error::invalid("seccomp policy: arg without op", where);
    if (op->value.IsString()) {
        std::string_view s = op->value.GetString();
        if (s == "eq")
            check.op = SCMP_CMP_EQ;
        else if (s == "ne")
            check.op = SCMP_CMP_NE;
        else if (s == "lt")
            check.op = SCMP_CMP_LT;
        else if (s == "le")
            check.op = SCMP_CMP_LE;
        else if (s == "gt")
            check.op = SCMP_CMP_GT;
        else if (s == "ge")
            check.op = SCMP_CMP_GE;
        else
            return Error::invalid("seccomp policy: bad op", where);
    } else if (op->value.IsObject() && op->value.HasMember("masked_eq")) {
        check.op = SCMP_CMP_MASKED_EQ;
        check.mask = EMBER_TRY(parse_value(op->value["masked_eq"], where));
    } else {
        return Error::invalid("seccomp policy: bad op", where);
    }
    if (check.dword) {
        check.value &= 0xffffffffULL;
        check.mask &= 0xffffffffULL;
    }
    return check;
}

Result<ThreadPolicy> parse_thread(const Value& v, const std::string& thread) {
    if (!v.IsObject())
        return Error::invalid("seccomp policy: thread entry is not an object", thread);
    ThreadPolicy policy;
    auto def = v.FindMember("default_action");
    auto filt = v.FindMember("filter_action");
    auto rules = v.FindMember("filter");
    if (def == v.MemberEnd() || filt == v.MemberEnd() || rules == v.MemberEnd() ||
        !rules->value.IsArray()) {
        return Error::invalid("seccomp policy: needs default_action, filter_action, filter",
                              thread);
    }
    policy.default_action = EMBER_TRY(parse_action(def->value, thread + ".default_action"));
    policy.filter_action = EMBER_TRY(parse_action(filt->value, thread + ".filter_action"));
    for (const Value& r : rules->value.GetArray()) {
        auto name = r.IsObject() ? r.FindMember("syscall") : r.MemberEnd();
        if (!r.IsObject() || name == r.MemberEnd() || !name->value.IsString()) {
            return Error::invalid("seccomp policy: rule without syscall", thread);
        }
        Rule rule;
        rule.syscall = name->value.GetString();
        std::string where = thread + "." + rule.syscall;
        auto args = r.FindMember("args");
        if (args != r.MemberEnd()) {
            if (!args->value.IsArray())
                return Error::invalid("seccomp policy: args not a list", where);
            for (const Value& a : args->value.GetArray()) {
                rule.args.push_back(EMBER_TRY(parse_arg(a, where)));
            }
        }
        policy.rules.push_back(std::move(rule));
    }
    return policy;
}

}  // namespace

Result<Policy> parse_policy(std::string_view json) {
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    if (doc.HasParseError()) {
        return Error::invalid("seccomp policy: bad JSON",
                              std::string(rapidjson::GetParseError_En(doc.GetParseError())) +
                                  " at offset " + std::to_string(doc.GetErrorOffset()));
    }
    if (!doc.IsObject() || doc.MemberCount() != kThreadKindCount) {
        return Error::invalid("seccomp policy", "must have exactly the keys vmm, api, vcpu");
    }
    Policy policy;
    std::array<bool, kThreadKindCount> seen{};
    const Value& root = doc;
    for (auto m = root.MemberBegin(); m != root.MemberEnd(); ++m) {
        std::string name = m->name.GetString();
        auto kind = parse_thread_kind(name);
        if (!kind || seen[static_cast<size_t>(*kind)]) {
            return Error::invalid("seccomp policy: unknown or duplicate thread kind", name);
        }
        seen[static_cast<size_t>(*kind)] = true;
        policy[static_cast<size_t>(*kind)] = EMBER_TRY(parse_thread(m->value, name));
    }
    return policy;
}

}  // namespace ember::seccompiler
