// ember: one process per microVM. Parses the command line, serves Firecracker's API on
// --api-sock (unless --no-api), builds and boots the VM from --config-file when given, and runs
// the vmm event loop on the main thread until the guest shuts down. Exit codes as Firecracker's
// (vmm/src/lib.rs).
#include <getopt.h>
#include <pthread.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

#include "api/config_file.h"
#include "api/http_server.h"
#include "api/router.h"
#include "vmm/api_metrics.h"
#include "vmm/base/file_open.h"
#include "vmm/base/log.h"
#include "vmm/base/seccomp_builtin.h"
#include "vmm/core/vmm.h"
#include "vmm/snapshot/describe.h"
#include "vmm/snapshot/state_file.h"
#include "vmm/startup_steps.h"

namespace ember {
namespace {

constexpr size_t kThreadStackBytes = size_t{512} << 10;

// The default attributes of every thread created afterwards (std::jthread takes the default).
Result<void> use_small_thread_stacks() {
    pthread_attr_t attr;
    if (int err = ::pthread_attr_init(&attr); err != 0) {
        return Error::from_errno(err, "pthread_attr_init");
    }
    int err = ::pthread_attr_setstacksize(&attr, kThreadStackBytes);
    if (err == 0) err = ::pthread_setattr_default_np(&attr);
    ::pthread_attr_destroy(&attr);
    if (err != 0) return Error::from_errno(err, "pthread_setattr_default_np");
    return ok();
}

constexpr int kExitOk = 0;
constexpr int kExitGeneric = startup::kGenericError;
constexpr int kExitBadConfiguration = startup::kBadConfiguration;
constexpr int kExitArgParsing = 153;

// The Firecracker release whose API and command line Ember answers. `--version` names it first,
// in Firecracker's "Firecracker vX.Y.Z" form, because launchers (Kata's, for one) take the second
// word of that line as the version and check it against their minimum.
constexpr const char* kFirecrackerVersion = "1.16.1";

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
  --snapshot-version     Print the snapshot format version this binary writes and exit
  --version              Print the version and exit
  --help                 Print this help and exit
)";

std::string version_line() {
    return fmt::format("Firecracker v{} (Ember v{})", kFirecrackerVersion, EMBER_VERSION);
}

void print_usage(std::FILE* out) { fmt::print(out, kUsage, api::kDefaultSocketPath); }

// Firecracker's arg_parser words, then the usage; the caller exits with kExitArgParsing.
int argument_error(const std::string& message) {
    fmt::print(stderr, "Arguments parsing error: {} \n\nFor more information try --help.\n\n",
               message);
    print_usage(stderr);
    return kExitArgParsing;
}

// As Firecracker's arg_parser: --help, then --version, anywhere before a `--`, win over
// everything else on the line, which is then not looked at.
std::optional<int> help_or_version(int argc, char** argv) {
    bool help = false;
    bool version = false;
    for (int i = 1; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
        help = help || std::strcmp(argv[i], "--help") == 0;
        version = version || std::strcmp(argv[i], "--version") == 0;
    }
    if (help) {
        fmt::print("{}\n\n", version_line());
        print_usage(stdout);
        return kExitOk;
    }
    if (version) {
        fmt::print("{}\n\n", version_line());
        return kExitOk;
    }
    return std::nullopt;
}

// The flag as typed (without "--" and "=value") for the option getopt_long just returned:
// Firecracker takes only whole names, where getopt would also take a unique prefix.
std::string_view typed_flag(char** argv, bool separate_value) {
    std::string_view arg = argv[optind - (separate_value ? 2 : 1)];
    if (arg.starts_with("--")) arg.remove_prefix(2);
    return arg.substr(0, arg.find('='));
}

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
    kOptSnapshotVersion,
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
        {"snapshot-version", no_argument, nullptr, kOptSnapshotVersion},
        {"metadata", required_argument, nullptr, kOptMetadata},
        {"mmds-size-limit", required_argument, nullptr, kOptMmdsSizeLimit},
        {nullptr, 0, nullptr, 0},
    };
    if (std::optional<int> code = help_or_version(argc, argv)) return code;
    auto number = [](const char* name, std::optional<uint64_t>& out) -> bool {
        out = parse_u64(optarg);
        if (!out) {
            fmt::print(stderr, "'{}' parameter expected to be of 'u64' type.\n", name);
        }
        return out.has_value();
    };
    // '+': stop at the first word that is not a flag (it is an error, as in Firecracker), ':':
    // report a missing value as such; opterr 0: the messages are Firecracker's, below.
    opterr = 0;
    std::set<int> seen;
    int opt;
    int index = -1;
    while ((opt = getopt_long(argc, argv, "+:", kOptions, &index)) != -1) {
        if (opt == '?' || opt == ':') {
            std::string_view arg = argv[optind - 1];
            if (arg.starts_with("--")) arg.remove_prefix(2);
            arg = arg.substr(0, arg.find('='));
            if (opt == ':') {
                return argument_error(
                    fmt::format("The argument '{}' requires a value, but none was supplied.", arg));
            }
            return argument_error(fmt::format(
                "Found argument '{}' which wasn't expected, or isn't valid in this context.", arg));
        }
        const option& spec = kOptions[index];
        const bool separate_value = optarg != nullptr && optarg == argv[optind - 1];
        if (typed_flag(argv, separate_value) != spec.name) {
            return argument_error(
                fmt::format("Found argument '{}' which wasn't expected, or isn't valid in this "
                            "context.",
                            typed_flag(argv, separate_value)));
        }
        // A value may not look like a flag: `--api-sock --id x` lacks the socket path.
        if (separate_value && std::string_view(optarg).starts_with("--")) {
            return argument_error(fmt::format(
                "The argument '{}' requires a value, but none was supplied.", spec.name));
        }
        if (!seen.insert(opt).second) {
            return argument_error(
                fmt::format("The argument '{}' was provided more than once.", spec.name));
        }
        switch (opt) {
            case kOptHelp:
            case kOptVersion:
                return kExitOk;  // Handled by help_or_version().
            // Firecracker's: the snapshot data format version this binary writes.
            case kOptSnapshotVersion:
                fmt::print("v{}.{}.0\n", snapshot::kFormatMajor, snapshot::kFormatMinor);
                return kExitOk;
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
            default: return argument_error(fmt::format("Unknown option '{}'.", spec.name));
        }
    }
    // Words after a `--` are Firecracker's extra arguments: ignored.
    if (optind < argc && std::strcmp(argv[optind - 1], "--") != 0) {
        return argument_error(fmt::format(
            "Found argument '{}' which wasn't expected, or isn't valid in this context.",
            argv[optind]));
    }
    if (cli.no_api && !cli.config_file) {
        return argument_error("Argument 'config-file' required, but not found.");
    }
    // Firecracker's validate_instance_id: 1 to 64 letters, digits or '-'. It panics there.
    const bool id_ok = !cli.id.empty() && cli.id.size() <= 64 &&
                       std::all_of(cli.id.begin(), cli.id.end(), [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
                       });
    if (!id_ok) {
        fmt::print(stderr, "Invalid instance ID: '{}' (1 to 64 letters, digits or '-')\n", cli.id);
        return kExitGeneric;
    }
    if (cli.seccomp_filter && cli.no_seccomp) {
        return argument_error(
            "Argument 'seccomp-filter' cannot be used together with argument 'no-seccomp'.");
    }
    return std::nullopt;
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
        // Firecracker's names, any case (Warn too); a bad one is a configuration error there.
        Result<log::Level> level = log::parse_level(*cli.level);
        if (!level) {
            fmt::print(stderr,
                       "Invalid value for logger level: {}.Possible values: [Error, Warning, "
                       "Info, Debug]\n",
                       *cli.level);
            return kExitBadConfiguration;
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
    EMBER_INFO("Running {}", version_line());
    // Before any thread starts: all then allocate from one malloc arena, whose syscalls the
    // seccomp filters allow (resources/seccomp/README.md, "The allocator").
    if (Result<void> arena = use_one_malloc_arena(); !arena) {
        EMBER_WARN("{}", arena.error().message());
    }
    // Also before any thread starts: 512 KiB stacks instead of RLIMIT_STACK's (8 MiB by default).
    // No thread needs more (no request is parsed recursively: api::parse_json), and a stack of
    // 2 MiB or more can be backed by one transparent huge page where THP is "always": that made
    // the vCPU thread's stack alone 2 MiB of the monitor's resident memory.
    if (Result<void> stacks = use_small_thread_stacks(); !stacks) {
        EMBER_WARN("{}", stacks.error().message());
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
        if (std::optional<int> code = startup::load_metadata(vmm, *metadata_json)) return *code;
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
        if (!started && started.error().code() == std::errc::address_in_use) {
            // Firecracker's words and exit code; its tests match them.
            EMBER_ERROR("Failed to open the API socket at: {}. Check that it is not already used.",
                        cli.api_sock);
            return kExitGeneric;
        }
        if (!started) {
            EMBER_ERROR("cannot start the API server: {}", started.error().message());
            return kExitGeneric;
        }
        server = std::move(*started);
        StartupTimes times =
            startup_times(cli.start_time_us, cli.start_time_cpu_us, cli.parent_cpu_time_us,
                          monotonic_now_us(), process_cpu_now_us());
        vmm.add_metrics_source(api_metrics(*router, times));
        EMBER_DEBUG("API server listening on {} after {} us ({} CPU us)", cli.api_sock,
                    times.wall_us, times.cpu_us);
    }

    if (cli.config_file) {
        if (std::optional<int> code =
                startup::boot_from_file(vmm, *cli.config_file, *config_json)) {
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
