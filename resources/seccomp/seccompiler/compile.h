// Turns a ThreadPolicy into a classic BPF program with libseccomp (build time only).
#pragma once

#include "resources/seccomp/seccompiler/policy.h"
#include "vmm/base/seccomp_filter.h"

namespace ember::seccompiler {

// Compiles for the native architecture (x86_64); the program kills on any other arch.
Result<BpfProgram> compile_thread(const ThreadPolicy& policy, std::string_view thread);

}  // namespace ember::seccompiler
