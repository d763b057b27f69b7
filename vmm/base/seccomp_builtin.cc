#include "vmm/base/seccomp_builtin.h"

// Defined in the .cc that ember-seccompiler generates at build time (resources/seccomp): C
// symbols, named as C names are.
// NOLINTNEXTLINE(readability-identifier-naming)
extern "C" const unsigned char ember_seccomp_blob[];
// NOLINTNEXTLINE(readability-identifier-naming)
extern "C" const unsigned long ember_seccomp_blob_size;

namespace ember {

std::span<const uint8_t> builtin_seccomp_bytes() {
    return {ember_seccomp_blob, static_cast<size_t>(ember_seccomp_blob_size)};
}

Result<SeccompFilters> builtin_seccomp_filters() {
    return SeccompFilters::parse(builtin_seccomp_bytes());
}

Result<void> install_filter(ThreadKind kind) {
    SeccompFilters filters = EMBER_TRY(builtin_seccomp_filters());
    return filters.install(kind);
}

}  // namespace ember
