// ember-seccompiler's model of a filter policy file (resources/seccomp/*.json), in Firecracker's
// seccompiler JSON format, plus symbolic argument values ("KVM_RUN", "AF_UNIX|SOCK_CLOEXEC").
#pragma once

#include <seccomp.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/base/seccomp_filter.h"

namespace ember::seccompiler {

// One argument condition; conditions of one rule are AND'd.
struct ArgCheck {
    unsigned index = 0;
    // dword: only the low 32 bits are compared (the C type of the argument is int/unsigned).
    bool dword = false;
    scmp_compare op = SCMP_CMP_EQ;
    uint64_t mask = 0;  // for SCMP_CMP_MASKED_EQ
    uint64_t value = 0;
};

// One syscall with optional argument conditions; rules are OR'd.
struct Rule {
    std::string syscall;
    std::vector<ArgCheck> args;
};

struct ThreadPolicy {
    uint32_t default_action = SCMP_ACT_TRAP;
    uint32_t filter_action = SCMP_ACT_ALLOW;
    std::vector<Rule> rules;
};

using Policy = std::array<ThreadPolicy, kThreadKindCount>;

// Parses the JSON text of a policy file; it must have exactly the keys vmm, api and vcpu.
Result<Policy> parse_policy(std::string_view json);

// Resolves a symbolic value: a number, a known constant name, or names joined by '|'.
std::optional<uint64_t> resolve_value(std::string_view text);

}  // namespace ember::seccompiler
