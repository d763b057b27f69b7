// libFuzzer target: parse_vm_config on arbitrary text; whatever parses must render to text that
// parses back to the same config.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/config_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto config = ember::api::parse_vm_config(text);
    if (!config) return 0;
    std::string rendered = ember::api::render_vm_config(*config);
    auto again = ember::api::parse_vm_config(rendered);
    if (!again || !(*again == *config)) std::abort();
    return 0;
}
