// Startup steps of the ember binary that end the process on failure with Firecracker's log line
// and exit code, which its tests and launchers match: --metadata and --config-file. Part of the
// `main` layer (it drives the Vmm with what the API layer parsed).
#pragma once

#include <optional>
#include <string>

#include "vmm/core/vmm.h"

namespace ember::startup {

// Firecracker's FcExitCode values used here.
inline constexpr int kGenericError = 1;
inline constexpr int kBadConfiguration = 152;

// Puts the --metadata JSON into the MMDS store. nullopt on success, else the exit code.
std::optional<int> load_metadata(Vmm& vmm, const std::string& json);

// Checks and applies --config-file's JSON (read at `path`), then boots. nullopt on success,
// else the exit code.
std::optional<int> boot_from_file(Vmm& vmm, const std::string& path, const std::string& json);

}  // namespace ember::startup
