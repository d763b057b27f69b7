// ember: one process per microVM. Parses the command line and hands over to the VMM.
#include <getopt.h>

#include <cstdio>

namespace {

constexpr const char* kUsage = R"(Usage: ember [OPTIONS]
A KVM-based microVM monitor with Firecracker's API.

  --api-sock PATH        Unix socket for the HTTP API (default /run/firecracker.socket)
  --config-file PATH     Build and boot the VM described by this JSON file
  --no-api               Serve no API (requires --config-file)
  --boot-timer           Attach the boot-timer device at MMIO 0xC0000000
  --id ID                Instance id used in logs (default anonymous-instance)
  --level LEVEL          Log level: Error, Warning, Info, Debug, Trace, Off
  --log-path PATH        Write logs to this file or FIFO instead of stderr
  --version              Print the version and exit
  --help                 Print this help and exit
)";

}  // namespace

int main(int argc, char** argv) {
    static const option kOptions[] = {
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},
        {nullptr, 0, nullptr, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", kOptions, nullptr)) != -1) {
        switch (opt) {
            case 'h': std::fputs(kUsage, stdout); return 0;
            case 'V': std::printf("Ember v%s\n", EMBER_VERSION); return 0;
            default: std::fputs(kUsage, stderr); return 153;
        }
    }
    std::fputs(kUsage, stderr);
    return 153;
}
