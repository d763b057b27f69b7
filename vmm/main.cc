// ember: one process per microVM. Parses the command line, builds the VM from --config-file and
// runs the vmm event loop until the guest shuts down. Exit codes as Firecracker's (vmm/src/lib.rs).
#include <getopt.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "api/json_config.h"
#include "vmm/base/log.h"
#include "vmm/core/vmm.h"

namespace ember {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitGeneric = 1;
constexpr int kExitBadConfiguration = 152;
constexpr int kExitArgParsing = 153;

constexpr const char* kUsage = R"(Usage: ember [OPTIONS]
A KVM-based microVM monitor with Firecracker's API.

  --api-sock PATH        Unix socket for the HTTP API (default /run/firecracker.socket)
  --config-file PATH     Build and boot the VM described by this JSON file
  --no-api               Serve no API (requires --config-file)
  --boot-timer           Attach the boot-timer device at MMIO 0xC0000000
  --id ID                Instance id used in logs (default anonymous-instance)
  --level LEVEL          Log level: Error, Warning, Info, Debug, Trace, Off
  --log-path PATH        Write logs to this file or FIFO instead of stderr
  --show-level           Print the level in each log line
  --show-log-origin      Print the source file and line in each log line
  --metrics-path PATH    Write metrics to this file or FIFO
  --seccomp-filter PATH  Install this compiled BPF filter instead of the built-in one
  --no-seccomp           Install no seccomp filter
  --http-api-max-payload-size BYTES  Largest accepted API request body (default 51200)
  --version              Print the version and exit
  --help                 Print this help and exit
)";

// Everything the command line can say. Flags for later features are parsed and kept.
struct CliOptions {
    std::string api_sock = "/run/firecracker.socket";
    std::optional<std::string> config_file;
    bool no_api = false;
    bool boot_timer = false;
    std::string id = "anonymous-instance";
    std::optional<std::string> level;
    std::optional<std::string> log_path;
    bool show_level = false;
    bool show_log_origin = false;
    std::optional<std::string> metrics_path;
    std::optional<std::string> seccomp_filter;
    bool no_seccomp = false;
    uint64_t http_api_max_payload_size = 51200;
    std::optional<uint64_t> start_time_us;
    std::optional<uint64_t> start_time_cpu_us;
    std::optional<uint64_t> parent_cpu_time_us;
};

enum OptionId {
    kOptHelp = 'h',
    kOptVersion = 'V',
    kOptApiSock = 1000,
    kOptConfigFile,
    kOptNoApi,
    kOptBootTimer,
    kOptId,
    kOptLevel,
    kOptLogPath,
    kOptShowLevel,
    kOptShowLogOrigin,
    kOptMetricsPath,
    kOptSeccompFilter,
    kOptNoSeccomp,
    kOptMaxPayload,
    kOptStartTimeUs,
    kOptStartTimeCpuUs,
    kOptParentCpuTimeUs,
    kOptModule,
};

std::optional<uint64_t> parse_u64(const char* text) {
    if (text == nullptr || *text == '\0') return std::nullopt;
    char* end = nullptr;
    errno = 0;
    unsigned long long value = std::strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || *text == '-') return std::nullopt;
    return static_cast<uint64_t>(value);
}

// Returns the exit code to stop with, or nothing to continue.
std::optional<int> parse_cli(int argc, char** argv, CliOptions& cli) {
    static const option kOptions[] = {
        {"help", no_argument, nullptr, kOptHelp},
        {"version", no_argument, nullptr, kOptVersion},
        {"api-sock", required_argument, nullptr, kOptApiSock},
        {"config-file", required_argument, nullptr, kOptConfigFile},
        {"no-api", no_argument, nullptr, kOptNoApi},
        {"boot-timer", no_argument, nullptr, kOptBootTimer},
        {"id", required_argument, nullptr, kOptId},
        {"level", required_argument, nullptr, kOptLevel},
        {"log-path", required_argument, nullptr, kOptLogPath},
        {"show-level", no_argument, nullptr, kOptShowLevel},
        {"show-log-origin", no_argument, nullptr, kOptShowLogOrigin},
        {"metrics-path", required_argument, nullptr, kOptMetricsPath},
        {"seccomp-filter", required_argument, nullptr, kOptSeccompFilter},
        {"no-seccomp", no_argument, nullptr, kOptNoSeccomp},
        {"http-api-max-payload-size", required_argument, nullptr, kOptMaxPayload},
        {"start-time-us", required_argument, nullptr, kOptStartTimeUs},
        {"start-time-cpu-us", required_argument, nullptr, kOptStartTimeCpuUs},
        {"parent-cpu-time-us", required_argument, nullptr, kOptParentCpuTimeUs},
        {"module", required_argument, nullptr, kOptModule},
        {nullptr, 0, nullptr, 0},
    };
    auto number = [](const char* name, std::optional<uint64_t>& out) -> bool {
        out = parse_u64(optarg);
        if (!out) std::fprintf(stderr, "ember: --%s needs a non-negative integer\n", name);
        return out.has_value();
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", kOptions, nullptr)) != -1) {
        switch (opt) {
            case kOptHelp: std::fputs(kUsage, stdout); return kExitOk;
            case kOptVersion: std::printf("Ember v%s\n", EMBER_VERSION); return kExitOk;
            case kOptApiSock: cli.api_sock = optarg; break;
            case kOptConfigFile: cli.config_file = optarg; break;
            case kOptNoApi: cli.no_api = true; break;
            case kOptBootTimer: cli.boot_timer = true; break;
            case kOptId: cli.id = optarg; break;
            case kOptLevel: cli.level = optarg; break;
            case kOptLogPath: cli.log_path = optarg; break;
            case kOptShowLevel: cli.show_level = true; break;
            case kOptShowLogOrigin: cli.show_log_origin = true; break;
            case kOptMetricsPath: cli.metrics_path = optarg; break;
            case kOptSeccompFilter: cli.seccomp_filter = optarg; break;
            case kOptNoSeccomp: cli.no_seccomp = true; break;
            case kOptModule: break;  // Firecracker's log module filter; Ember logs every module.
            case kOptMaxPayload: {
                std::optional<uint64_t> size;
                if (!number("http-api-max-payload-size", size)) return kExitArgParsing;
                cli.http_api_max_payload_size = *size;
                break;
            }
            case kOptStartTimeUs:
                if (!number("start-time-us", cli.start_time_us)) return kExitArgParsing;
                break;
            case kOptStartTimeCpuUs:
                if (!number("start-time-cpu-us", cli.start_time_cpu_us)) return kExitArgParsing;
                break;
            case kOptParentCpuTimeUs:
                if (!number("parent-cpu-time-us", cli.parent_cpu_time_us)) return kExitArgParsing;
                break;
            default: std::fputs(kUsage, stderr); return kExitArgParsing;
        }
    }
    if (optind < argc) {
        std::fprintf(stderr, "ember: unexpected argument '%s'\n", argv[optind]);
        return kExitArgParsing;
    }
    if (cli.no_api && !cli.config_file) {
        std::fputs("ember: --no-api requires --config-file\n", stderr);
        return kExitArgParsing;
    }
    if (cli.seccomp_filter && cli.no_seccomp) {
        std::fputs("ember: --seccomp-filter and --no-seccomp exclude each other\n", stderr);
        return kExitArgParsing;
    }
    return std::nullopt;
}

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::from_errno("open config file", path);
    std::ostringstream contents;
    contents << in.rdbuf();
    return contents.str();
}

int run(int argc, char** argv) {
    auto launch = std::chrono::steady_clock::now();
    CliOptions cli;
    if (std::optional<int> code = parse_cli(argc, argv, cli)) return *code;

    log::Options log_options;
    log_options.show_level = cli.show_level;
    log_options.show_origin = cli.show_log_origin;
    if (cli.level) {
        Result<log::Level> level = log::parse_level(*cli.level);
        if (!level) {
            std::fprintf(stderr, "ember: invalid --level '%s'\n", cli.level->c_str());
            return kExitArgParsing;
        }
        log_options.level = *level;
    }
    log::set_instance_id(cli.id);
    if (Result<void> configured = log::configure(log_options, cli.log_path.value_or(""));
        !configured) {
        std::fprintf(stderr, "ember: %s\n", configured.error().message().c_str());
        return kExitGeneric;
    }
    log::set_thread_name("firecracker");

    if (!cli.no_api) {
        EMBER_ERROR("API server not available yet: run with --config-file and --no-api");
        return kExitGeneric;
    }

    Vmm::Options vmm_options;
    vmm_options.instance_id = cli.id;
    vmm_options.boot_timer = cli.boot_timer;
    vmm_options.launch = launch;
    Result<std::unique_ptr<Vmm>> vmm = Vmm::create(vmm_options);
    if (!vmm) {
        EMBER_ERROR("cannot create the VMM: {}", vmm.error().message());
        return kExitGeneric;
    }

    Result<std::string> json = read_file(*cli.config_file);
    if (!json) {
        EMBER_ERROR("{}", json.error().message());
        return kExitBadConfiguration;
    }
    Result<VmConfig> config = api::parse_vm_config(*json);
    if (!config) {
        EMBER_ERROR("invalid config file {}: {}", *cli.config_file, config.error().message());
        return kExitBadConfiguration;
    }
    if (Result<void> configured = (*vmm)->configure(*config); !configured) {
        EMBER_ERROR("invalid config file {}: {}", *cli.config_file, configured.error().message());
        return kExitBadConfiguration;
    }
    if (Result<void> started = (*vmm)->start(); !started) {
        EMBER_ERROR("cannot start the microVM: {}", started.error().message());
        return kExitGeneric;
    }
    return (*vmm)->run();
}

}  // namespace
}  // namespace ember

int main(int argc, char** argv) { return ember::run(argc, argv); }
