// The default seccomp filters, compiled at build time from resources/seccomp/x86_64.json by
// ember-seccompiler and embedded in the ember binary (library ember_seccomp).
#pragma once

#include <cstdint>
#include <span>

#include "vmm/base/result.h"
#include "vmm/base/seccomp_filter.h"

namespace ember {

// The embedded compiled filter file, as bytes.
std::span<const uint8_t> builtin_seccomp_bytes();

// The embedded filters, parsed: what ember installs unless given --seccomp-filter/--no-seccomp.
Result<SeccompFilters> builtin_seccomp_filters();

// Thread: any. Installs the embedded filter for `kind` on the calling thread.
Result<void> install_filter(ThreadKind kind);

}  // namespace ember
