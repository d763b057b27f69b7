// ember: one process per microVM. Parses the command line, serves Firecracker's API on
// --api-sock (unless --no-api), builds and boots the VM from --config-file when given, and runs
// the vmm event loop on the main thread until the guest shuts down. Exit codes as Firecracker's
// (vmm/src/lib.rs).
#include <getopt.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "api/config_file.h"
#include "api/http_server.h"
#include "api/router.h"
#include "vmm/base/file_open.h"
#include "vmm/base/log.h"
#include "vmm/base/seccomp_builtin.h"
#include "vmm/core/vmm.h"
#include "vmm/snapshot/describe.h"

namespace ember {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitGeneric = 1;
constexpr int kExitBadConfiguration = 152;
constexpr int kExitArgParsing = 153;

constexpr const char* kUsage = R"(Usage: ember [OPTIONS]
A KVM-based microVM monitor with Firecracker's API.

  --api-sock PATH        Unix socket for the HTTP API (default {})
  --config-file PATH     Build and boot the VM described by this JSON file
  --no-api               Serve no API (requires --config-file)
  --boot-timer           Attach the boot-timer device at MMIO 0xC0000000
  --id ID                Instance id used in logs (default anonymous-instance)
  --level LEVEL          Log level: Error, Warning, Info, Debug, Trace, Off
  --log-path PATH        Write logs to this file or FIFO instead of stderr
  --show-level           Print the level in each log line
  --show-log-origin      Print the source file and line in each log line
  --module PATH          Log only lines from sources under this path (e.g. api, vmm/core)
  --metrics-path PATH    Write metrics to this file or FIFO
  --seccomp-filter PATH  Install this compiled BPF filter instead of the built-in one
  --no-seccomp           Install no seccomp filter
  --http-api-max-payload-size BYTES  Largest accepted API request body (default 51200)
  --metadata PATH        Put this JSON file's object in the MMDS data store at launch
  --mmds-size-limit BYTES  Largest MMDS data store (default: the API payload limit)
  --describe-snapshot FILE  Print the format version and contents of a snapshot state file
  --version              Print the version and exit
  --help                 Print this help and exit
)";

void print_usage(std::FILE* out) { fmt::print(out, kUsage, api::kDefaultSocketPath); }

// Everything the command line can say. Flags for later features are parsed and kept.
struct CliOptions {
    std::string api_sock{api::kDefaultSocketPath};
    std::optional<std::string> config_file;
    bool no_api = false;
    bool boot_timer = false;
    std::string id = "anonymous-instance";
    std::optional<std::string> level;
    std::optional<std::string> log_path;
    bool show_level = false;
    bool show_log_origin = false;
    std::optional<std::string> module;
    std::optional<std::string> metrics_path;
    std::optional<std::string> seccomp_filter;
    bool no_seccomp = false;
    uint64_t http_api_max_payload_size = 51200;
    std::optional<uint64_t> start_time_us;
    std::optional<uint64_t> start_time_cpu_us;
    std::optional<uint64_t> parent_cpu_time_us;
    std::optional<std::string> metadata;
    std::optional<uint64_t> mmds_size_limit;  // Unset: http_api_max_payload_size, as Firecracker.
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
    kOptDescribeSnapshot,
    kOptMetadata,
    kOptMmdsSizeLimit,
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
        {"describe-snapshot", required_argument, nullptr, kOptDescribeSnapshot},
        {"metadata", required_argument, nullptr, kOptMetadata},
        {"mmds-size-limit", required_argument, nullptr, kOptMmdsSizeLimit},
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
            case kOptHelp: print_usage(stdout); return kExitOk;
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
            case kOptModule: cli.module = optarg; break;
            // Firecracker's: print what a snapshot state file holds, then exit.
            case kOptDescribeSnapshot: return snapshot::describe_snapshot_main(optarg);
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
            case kOptMetadata: cli.metadata = optarg; break;
            case kOptMmdsSizeLimit:
                if (!number("mmds-size-limit", cli.mmds_size_limit)) return kExitArgParsing;
                break;
            default: print_usage(stderr); return kExitArgParsing;
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

uint64_t micros(std::chrono::nanoseconds d) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

uint64_t process_cpu_us() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

// The API thread (fc_api): serves the socket until the returned server is destroyed, which
// also removes the socket file. The one place it starts.
Result<std::unique_ptr<api::HttpServer>> start_api_server(const CliOptions& cli,
                                                          api::Router& router,
                                                          const SeccompFilters* seccomp) {
    api::HttpServerOptions options;
    options.socket_path = cli.api_sock;
    options.limits.max_body_bytes = cli.http_api_max_payload_size;
    if (seccomp) options.seccomp = &seccomp->program(ThreadKind::kApi);
    return api::HttpServer::start(std::move(options), router);
}

// The per-thread filters: built in, from --seccomp-filter, or none with --no-seccomp.
Result<std::optional<SeccompFilters>> load_seccomp(const CliOptions& cli) {
    if (cli.no_seccomp) {
        EMBER_WARN("--no-seccomp: running without seccomp filters; not for production");
        return std::optional<SeccompFilters>();
    }
    SeccompFilters filters = cli.seccomp_filter
                                 ? EMBER_TRY(SeccompFilters::load_file(*cli.seccomp_filter))
                                 : EMBER_TRY(builtin_seccomp_filters());
    EMBER_TRY(install_sigsys_handler());
    return std::optional<SeccompFilters>(std::move(filters));
}

// api_server (start-up times, as Firecracker measures them when the jailer passes its clocks)
// and the per-method request counters.
Vmm::MetricsSource api_metrics(const api::Router& router, uint64_t startup_us,
                               uint64_t startup_cpu_us) {
    return [&router, startup_us, startup_cpu_us](std::vector<MetricGroup>& groups) {
        const api::ApiRequestCounters& c = router.counters();
        groups.push_back({"api_server",
                          {{"process_startup_time_us", startup_us, MetricKind::kGauge},
                           {"process_startup_time_cpu_us", startup_cpu_us, MetricKind::kGauge}}});
        groups.push_back({"get_api_requests", {{"count", c.get_count.load()}}});
        groups.push_back(
            {"put_api_requests", {{"count", c.put_count.load()}, {"fails", c.put_fails.load()}}});
        groups.push_back({"patch_api_requests",
                          {{"count", c.patch_count.load()}, {"fails", c.patch_fails.load()}}});
    };
}

// Checks and applies --config-file (read by read_config_file), then boots. Returns the exit
// code to stop with.
std::optional<int> boot_from_file(Vmm& vmm, const std::string& path, const std::string& json) {
    Result<VmConfig> config = api::parse_vm_config(json);
    if (!config) {
        EMBER_ERROR("invalid config file {}: {}", path, config.error().message());
        return kExitBadConfiguration;
    }
    if (Result<void> configured = vmm.configure(*config); !configured) {
        EMBER_ERROR("invalid config file {}: {}", path, configured.error().message());
        return kExitBadConfiguration;
    }
    if (Result<void> started = vmm.start(); !started) {
        EMBER_ERROR("cannot start the microVM: {}", started.error().message());
        return kExitGeneric;
    }
    return std::nullopt;
}

// --metadata: the file's JSON object, bounded as the config file (or by a larger store limit).
std::optional<std::string> read_metadata(const CliOptions& cli, size_t mmds_size_limit) {
    Result<std::string> json = read_named_file(*cli.metadata, FileKinds::kRegularOrFifo,
                                               std::max(api::kMaxConfigFileBytes, mmds_size_limit),
                                               api::kConfigFifoTimeout, "read metadata file");
    if (!json) {
        // Firecracker's words.
        EMBER_ERROR("Unable to open or read from the mmds content file: {}",
                    json.error().message());
        return std::nullopt;
    }
    return std::move(*json);
}

int run(int argc, char** argv) {
    auto launch = std::chrono::steady_clock::now();
    CliOptions cli;
    if (std::optional<int> code = parse_cli(argc, argv, cli)) return *code;

    log::Options log_options;
    log_options.show_level = cli.show_level;
    log_options.show_origin = cli.show_log_origin;
    log_options.module = cli.module.value_or("");
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
    // Before any thread starts: all then allocate from one malloc arena, whose syscalls the
    // seccomp filters allow (resources/seccomp/README.md, "The allocator").
    if (Result<void> arena = use_one_malloc_arena(); !arena) {
        EMBER_WARN("{}", arena.error().message());
    }
    // Before the exit signals are blocked, so that Ctrl-C still ends a wait on a FIFO's writer;
    // bounded in size and, for a FIFO, in time (api::kMaxConfigFileBytes, kConfigFifoTimeout).
    std::optional<std::string> config_json;
    if (cli.config_file) {
        Result<std::string> json =
            read_named_file(*cli.config_file, FileKinds::kRegularOrFifo, api::kMaxConfigFileBytes,
                            api::kConfigFifoTimeout, "read config file");
        if (!json) {
            EMBER_ERROR("{}", json.error().message());
            return kExitBadConfiguration;
        }
        config_json = std::move(*json);
    }
    const size_t mmds_size_limit = cli.mmds_size_limit.value_or(cli.http_api_max_payload_size);
    std::optional<std::string> metadata_json;
    if (cli.metadata) {
        metadata_json = read_metadata(cli, mmds_size_limit);
        if (!metadata_json) return kExitBadConfiguration;
    }
    // Before any thread starts, so that every thread inherits the blocked mask: these signals
    // then end vmm.run() and the destructors restore the console terminal.
    Result<ExitSignals> exit_signals = ExitSignals::create();
    if (!exit_signals) {
        EMBER_ERROR("{}", exit_signals.error().message());
        return kExitGeneric;
    }

    Result<std::optional<SeccompFilters>> seccomp = load_seccomp(cli);
    if (!seccomp) {
        EMBER_ERROR("seccomp: {}", seccomp.error().message());
        return kExitGeneric;
    }
    const SeccompFilters* filters = *seccomp ? &**seccomp : nullptr;

    Vmm::Options vmm_options;
    vmm_options.instance_id = cli.id;
    vmm_options.seccomp = filters;
    vmm_options.boot_timer = cli.boot_timer;
    vmm_options.launch = launch;
    if (cli.start_time_us) {
        vmm_options.boot_timer_start = BootTimer::StartTime::from_us(*cli.start_time_us, 0);
    } else if (cli.config_file) {
        vmm_options.boot_timer_start = BootTimer::StartTime{launch, 0};
    }
    vmm_options.log = log_options;
    vmm_options.mmds_size_limit = mmds_size_limit;
    Result<std::unique_ptr<Vmm>> created = Vmm::create(vmm_options);
    if (!created) {
        EMBER_ERROR("cannot create the VMM: {}", created.error().message());
        return kExitGeneric;
    }
    Vmm& vmm = **created;
    if (Result<void> watched = vmm.exit_on(std::move(*exit_signals)); !watched) {
        EMBER_ERROR("{}", watched.error().message());
        return kExitGeneric;
    }
    // Before the API serves, so that GET /mmds sees it from the first request.
    if (metadata_json) {
        if (Result<void> put = vmm.put_mmds(*metadata_json); !put) {
            EMBER_ERROR("MMDS error: metadata provided not valid: {}", put.error().message());
            return kExitBadConfiguration;
        }
        EMBER_INFO("Successfully added metadata to mmds from file");
    }
    if (cli.metrics_path) {
        if (Result<void> set = vmm.set_metrics({*cli.metrics_path}); !set) {
            EMBER_ERROR("{}", set.error().message());
            return kExitGeneric;
        }
    }

    // Declared after the Vmm and the router, so destroyed first: the API thread stops (and the
    // socket file goes) before what it calls into.
    std::optional<api::Router> router;
    std::unique_ptr<api::HttpServer> server;
    if (!cli.no_api) {
        router.emplace(vmm);
        Result<std::unique_ptr<api::HttpServer>> started = start_api_server(cli, *router, filters);
        if (!started) {
            EMBER_ERROR("cannot start the API server: {}", started.error().message());
            return kExitGeneric;
        }
        server = std::move(*started);
        // Firecracker's start-up figures: from the jailer's clocks when given, else from main.
        auto ready = std::chrono::steady_clock::now();
        uint64_t startup_us =
            cli.start_time_us ? micros(ready.time_since_epoch()) -
                                    std::min(*cli.start_time_us, micros(ready.time_since_epoch()))
                              : micros(ready - launch);
        uint64_t cpu_us = process_cpu_us() + cli.parent_cpu_time_us.value_or(0);
        cpu_us -= std::min(cpu_us, cli.start_time_cpu_us.value_or(0));
        vmm.add_metrics_source(api_metrics(*router, startup_us, cpu_us));
        EMBER_DEBUG("API server listening on {} after {} us ({} CPU us)", cli.api_sock, startup_us,
                    cpu_us);
    }

    if (cli.config_file) {
        if (std::optional<int> code = boot_from_file(vmm, *cli.config_file, *config_json)) {
            return *code;
        }
    }
    int code = vmm.run();
    server.reset();
    return code;
}

}  // namespace
}  // namespace ember

int main(int argc, char** argv) { return ember::run(argc, argv); }
