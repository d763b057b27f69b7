#include "jailer/args.h"

#include <charconv>
#include <limits>

namespace ember::jailer {
namespace {

constexpr std::string_view kFlagContext = "ember-jailer arguments";

Error bad(std::string detail) { return Error::invalid(kFlagContext.data(), std::move(detail)); }

template <typename T>
std::optional<T> parse_unsigned(std::string_view text) {
    T value{};
    if (text.empty()) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// A uid or gid: a decimal number that is not (uid_t)-1, which means "unchanged" to the kernel.
std::optional<uint32_t> parse_id_number(std::string_view text) {
    auto value = parse_unsigned<uint32_t>(text);
    if (!value || *value == std::numeric_limits<uint32_t>::max()) return std::nullopt;
    return value;
}

bool is_cgroup_file_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

// FILE=VALUE with FILE like `cpuset.cpus`: a controller, a dot, a name; no path separators.
Result<CgroupSetting> parse_cgroup(std::string_view text) {
    size_t eq = text.find('=');
    if (eq == std::string_view::npos)
        return bad("--cgroup: expected FILE=VALUE, got '" + std::string(text) + "'");
    std::string_view file = text.substr(0, eq);
    std::string_view value = text.substr(eq + 1);
    size_t dot = file.find('.');
    bool file_ok =
        !file.empty() && dot != std::string_view::npos && dot > 0 && dot + 1 < file.size();
    for (char c : file) file_ok = file_ok && is_cgroup_file_char(c);
    if (!file_ok) return bad("--cgroup: bad cgroup file name '" + std::string(file) + "'");
    if (value.empty() || value.find('\n') != std::string_view::npos) {
        return bad("--cgroup: bad value for '" + std::string(file) + "'");
    }
    return CgroupSetting{std::string(file), std::string(value)};
}

Result<void> parse_resource_limit(std::string_view text, ResourceLimits& limits) {
    size_t eq = text.find('=');
    if (eq == std::string_view::npos)
        return bad("--resource-limit: expected NAME=VALUE, got '" + std::string(text) + "'");
    std::string_view name = text.substr(0, eq);
    auto value = parse_unsigned<uint64_t>(text.substr(eq + 1));
    if (!value) return bad("--resource-limit: bad value in '" + std::string(text) + "'");
    if (name == "fsize") {
        limits.fsize = *value;
    } else if (name == "no-file") {
        limits.no_file = *value;
    } else {
        return bad("--resource-limit: unknown resource '" + std::string(name) +
                   "' (fsize, no-file)");
    }
    return ok();
}

// A relative path of plain components: no leading '/', no '.', '..' or empty components.
bool is_clean_relative_path(std::string_view path) {
    if (path.empty() || path.front() == '/') return false;
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        std::string_view part =
            path.substr(start, slash == std::string_view::npos ? slash : slash - start);
        if (part.empty() || part == "." || part == "..") return false;
        for (char c : part) {
            if (!is_cgroup_file_char(c)) return false;
        }
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return true;
}

// An absolute path without '.' or '..' components.
bool is_clean_absolute_path(std::string_view path) {
    if (path.empty() || path.front() != '/') return false;
    size_t start = 1;
    while (start < path.size()) {
        size_t slash = path.find('/', start);
        std::string_view part =
            path.substr(start, slash == std::string_view::npos ? slash : slash - start);
        if (part == "." || part == "..") return false;
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return true;
}

}  // namespace

const char* const kUsage =
    R"(Usage: ember-jailer --id ID --exec-file PATH --uid UID --gid GID [OPTIONS] [-- EMBER ARGS]
Confines one ember process, with the flags of Firecracker's jailer.

  --id ID                   VM id: letters, digits and hyphens, at most 64 characters
  --exec-file PATH          The ember binary; copied into the jail
  --uid UID, --gid GID      The user and group ember runs as
  --chroot-base-dir DIR     Where jails are made (default /srv/jailer)
  --netns PATH              Join this network namespace (e.g. /var/run/netns/NAME)
  --daemonize               Detach: new session, stdio on /dev/null
  --new-pid-ns              Run ember as pid 1 of a new pid namespace
  --allow-root              Accept --uid 0 or --gid 0 (refused otherwise; Ember only)
  --cgroup FILE=VALUE       Write VALUE into cgroup FILE (repeatable), e.g. cpuset.cpus=0
  --cgroup-version 1|2      The cgroup hierarchy to use (default 1)
  --parent-cgroup PATH      Parent of the VM's cgroup (default: the exec file's name)
  --resource-limit R=N      fsize=N or no-file=N (repeatable; default no-file=2048)
  --help                    Print this help and exit
  --version                 Print the version and exit
)";

std::string JailerArgs::exec_name() const {
    size_t slash = exec_file.rfind('/');
    return slash == std::string::npos ? exec_file : exec_file.substr(slash + 1);
}

bool is_valid_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxIdLength) return false;
    for (char c : id) {
        bool good =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!good) return false;
    }
    return true;
}

Result<ParsedArgs> parse_args(std::span<const std::string_view> argv) {
    ParsedArgs parsed;
    JailerArgs& args = parsed.args;
    bool have_id = false, have_exec = false, have_uid = false, have_gid = false;
    for (size_t i = 0; i < argv.size(); ++i) {
        std::string_view arg = argv[i];
        if (arg == "--") {
            for (size_t j = i + 1; j < argv.size(); ++j) args.extra_args.emplace_back(argv[j]);
            break;
        }
        if (arg == "--help" || arg == "-h") {
            parsed.command = Command::kHelp;
            return parsed;
        }
        if (arg == "--version") {
            parsed.command = Command::kVersion;
            return parsed;
        }
        if (arg == "--daemonize") {
            args.daemonize = true;
            continue;
        }
        if (arg == "--new-pid-ns") {
            args.new_pid_ns = true;
            continue;
        }
        if (arg == "--allow-root") {
            args.allow_root = true;
            continue;
        }
        // Every other flag takes a value, as `--flag VALUE` or `--flag=VALUE`.
        std::string_view flag = arg, value;
        size_t eq = arg.find('=');
        if (arg.rfind("--", 0) == 0 && eq != std::string_view::npos) {
            flag = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        } else {
            if (i + 1 >= argv.size()) return bad(std::string(arg) + ": missing value");
            value = argv[++i];
        }
        if (flag == "--id") {
            if (!is_valid_id(value)) {
                return bad("--id: '" + std::string(value) +
                           "' must be 1-64 letters, digits or hyphens");
            }
            args.id = value;
            have_id = true;
        } else if (flag == "--exec-file") {
            if (value.empty() || value.back() == '/') return bad("--exec-file: not a file path");
            args.exec_file = value;
            have_exec = true;
        } else if (flag == "--uid") {
            auto uid = parse_id_number(value);
            if (!uid) return bad("--uid: '" + std::string(value) + "' is not a valid uid");
            args.uid = *uid;
            have_uid = true;
        } else if (flag == "--gid") {
            auto gid = parse_id_number(value);
            if (!gid) return bad("--gid: '" + std::string(value) + "' is not a valid gid");
            args.gid = *gid;
            have_gid = true;
        } else if (flag == "--chroot-base-dir") {
            if (!is_clean_absolute_path(value)) {
                return bad("--chroot-base-dir: '" + std::string(value) +
                           "' must be an absolute path without . or ..");
            }
            args.chroot_base_dir = value;
            while (args.chroot_base_dir.size() > 1 && args.chroot_base_dir.back() == '/') {
                args.chroot_base_dir.pop_back();
            }
        } else if (flag == "--netns") {
            if (value.empty()) return bad("--netns: empty path");
            args.netns = std::string(value);
        } else if (flag == "--cgroup") {
            args.cgroups.push_back(EMBER_TRY(parse_cgroup(value)));
        } else if (flag == "--cgroup-version") {
            if (value == "1")
                args.cgroup_version = CgroupVersion::kV1;
            else if (value == "2")
                args.cgroup_version = CgroupVersion::kV2;
            else
                return bad("--cgroup-version: must be 1 or 2, got '" + std::string(value) + "'");
        } else if (flag == "--parent-cgroup") {
            if (!is_clean_relative_path(value)) {
                return bad("--parent-cgroup: '" + std::string(value) +
                           "' must be a relative path without . or ..");
            }
            args.parent_cgroup = std::string(value);
        } else if (flag == "--resource-limit") {
            EMBER_TRY(parse_resource_limit(value, args.limits));
        } else {
            return bad("unknown flag '" + std::string(flag) + "'");
        }
    }
    if (!have_id) return bad("missing required flag --id");
    if (!have_exec) return bad("missing required flag --exec-file");
    if (!have_uid) return bad("missing required flag --uid");
    if (!have_gid) return bad("missing required flag --gid");
    if ((args.uid == 0 || args.gid == 0) && !args.allow_root) {
        return bad(std::string(args.uid == 0 ? "--uid 0" : "--gid 0") +
                   ": ember would keep root's privileges in the jail; use an unprivileged "
                   "uid and gid, or pass --allow-root to mean it");
    }
    std::string name = args.exec_name();
    if (name == "." || name == ".." || !is_clean_relative_path(name)) {
        return bad("--exec-file: '" + name + "' is not a usable file name");
    }
    return parsed;
}

}  // namespace ember::jailer
