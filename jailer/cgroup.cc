#include "jailer/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace ember::jailer {
namespace {

std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        size_t pos = text.find(sep, start);
        out.emplace_back(text.substr(start, pos == std::string_view::npos ? pos : pos - start));
        if (pos == std::string_view::npos) return out;
        start = pos + 1;
    }
}

bool contains(const std::vector<std::string>& items, std::string_view item) {
    return std::find(items.begin(), items.end(), item) != items.end();
}

Result<std::string> read_file(const char* path) {
    UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno("cgroup: open", path);
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
    if (n < 0) return Error::from_errno("cgroup: read", path);
    return text;
}

// The process's cgroup in the hierarchy with `controllers` (v1) or the unified one (v2: an
// empty list), from /proc/self/cgroup lines "<id>:<controllers>:<path>"; relative to the mount.
std::string own_cgroup(std::string_view self_cgroup, const std::vector<std::string>& controllers) {
    for (const std::string& line : split(self_cgroup, '\n')) {
        size_t first = line.find(':');
        size_t second = line.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos) continue;
        std::vector<std::string> listed =
            split(std::string_view(line).substr(first + 1, second - first - 1), ',');
        bool match = controllers.empty()
                         ? (listed.size() == 1 && listed[0].empty())
                         : std::any_of(controllers.begin(), controllers.end(),
                                       [&](const std::string& c) { return contains(listed, c); });
        if (!match) continue;
        std::string path = line.substr(second + 1);
        while (!path.empty() && path.front() == '/') path.erase(path.begin());
        return path;
    }
    return {};
}

std::string join(const std::string& dir, const std::string& name) {
    return dir.empty() ? name : dir + "/" + name;
}

Result<void> write_at(int dirfd, const std::string& rel, std::string_view value,
                      const std::string& shown) {
    UniqueFd fd(::openat(dirfd, rel.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return Error::from_errno("cgroup: open", shown);
    if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
        return Error::from_errno("cgroup: write", shown + " <- " + std::string(value));
    }
    return ok();
}

Result<std::string> read_at(int dirfd, const std::string& rel, const std::string& shown) {
    UniqueFd fd(::openat(dirfd, rel.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return Error::from_errno("cgroup: open", shown);
    char buf[1024];
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) return Error::from_errno("cgroup: read", shown);
    std::string text(buf, static_cast<size_t>(n));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

// cpuset v1 refuses tasks while cpuset.cpus or cpuset.mems is empty: copy them down from the
// parent at every level that has none (as Firecracker's inherit_from_parent).
Result<void> inherit_cpuset(int dirfd, const std::string& mount_path, const std::string& leaf) {
    std::vector<std::string> parts = split(leaf, '/');
    std::string parent, current;
    for (const std::string& part : parts) {
        current = join(current, part);
        for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
            std::string here = join(current, file);
            std::string shown = join(mount_path, here);
            std::string value = EMBER_TRY(read_at(dirfd, here, shown));
            if (!value.empty()) continue;
            std::string from = parent.empty() ? std::string(file) : join(parent, file);
            std::string inherited = EMBER_TRY(read_at(dirfd, from, join(mount_path, from)));
            EMBER_TRY(write_at(dirfd, here, inherited, shown));
        }
        parent = current;
    }
    return ok();
}

}  // namespace

std::vector<MountEntry> parse_mounts(std::string_view text) {
    std::vector<MountEntry> mounts;
    for (const std::string& line : split(text, '\n')) {
        std::vector<std::string> fields = split(line, ' ');
        if (fields.size() < 4) continue;
        mounts.push_back(MountEntry{fields[1], fields[2], split(fields[3], ',')});
    }
    return mounts;
}

Result<CgroupJail> CgroupJail::create(const JailerArgs& args, pid_t pid) {
    CgroupJail jail;
    jail.version_ = args.cgroup_version;
    if (args.cgroups.empty() &&
        !(args.cgroup_version == CgroupVersion::kV2 && args.parent_cgroup)) {
        return jail;
    }
    std::vector<MountEntry> mounts = parse_mounts(EMBER_TRY(read_file("/proc/mounts")));
    std::string self_cgroup = EMBER_TRY(read_file("/proc/self/cgroup"));
    // On failure `jail` goes out of scope and its destructor undoes the partial work.
    if (args.cgroup_version == CgroupVersion::kV1) {
        EMBER_TRY(jail.setup_v1(args, pid, mounts, self_cgroup));
    } else {
        EMBER_TRY(jail.setup_v2(args, pid, mounts, self_cgroup));
    }
    return jail;
}

Result<void> CgroupJail::make_leaf(Hierarchy& h) {
    std::string current;
    for (const std::string& part : split(h.leaf, '/')) {
        current = join(current, part);
        if (::mkdirat(h.mount_dir.get(), current.c_str(), 0755) == 0) {
            h.created.push_back(current);
        } else if (errno != EEXIST) {
            return Error::from_errno("cgroup: mkdir", h.mount_path + "/" + current);
        }
    }
    return ok();
}

Result<void> CgroupJail::setup_v1(const JailerArgs& args, pid_t pid,
                                  const std::vector<MountEntry>& mounts,
                                  std::string_view self_cgroup) {
    std::string leaf = args.parent_cgroup_or_default() + "/" + args.id;
    // One hierarchy per mount that holds a named controller, in the order the flags name them.
    std::vector<std::vector<const CgroupSetting*>> settings;
    for (const CgroupSetting& setting : args.cgroups) {
        std::string controller = setting.controller();
        auto mount = std::find_if(mounts.begin(), mounts.end(), [&](const MountEntry& m) {
            return m.fstype == "cgroup" && contains(m.options, controller);
        });
        if (mount == mounts.end()) {
            return Error::invalid("cgroup: no v1 hierarchy for controller",
                                  controller + " (" + setting.file + ")");
        }
        auto known = std::find_if(hierarchies_.begin(), hierarchies_.end(),
                                  [&](const Hierarchy& h) { return h.mount_path == mount->path; });
        if (known != hierarchies_.end()) {
            settings[static_cast<size_t>(known - hierarchies_.begin())].push_back(&setting);
            continue;
        }
        Hierarchy h;
        h.mount_path = mount->path;
        h.mount_dir = UniqueFd(::open(mount->path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!h.mount_dir) return Error::from_errno("cgroup: open", mount->path);
        for (const std::string& option : mount->options) {
            if (option != "rw" && option != "ro" && option.find('=') == std::string::npos)
                h.controllers.push_back(option);
        }
        h.original = own_cgroup(self_cgroup, {controller});
        h.leaf = leaf;
        hierarchies_.push_back(std::move(h));
        settings.push_back({&setting});
    }
    for (size_t i = 0; i < hierarchies_.size(); ++i) {
        Hierarchy& h = hierarchies_[i];
        EMBER_TRY(make_leaf(h));
        if (contains(h.controllers, "cpuset"))
            EMBER_TRY(inherit_cpuset(h.mount_dir.get(), h.mount_path, h.leaf));
        for (const CgroupSetting* setting : settings[i]) {
            std::string rel = join(h.leaf, setting->file);
            EMBER_TRY(write_at(h.mount_dir.get(), rel, setting->value, h.mount_path + "/" + rel));
        }
        std::string tasks = join(h.leaf, "tasks");
        EMBER_TRY(
            write_at(h.mount_dir.get(), tasks, std::to_string(pid), h.mount_path + "/" + tasks));
        h.joined = true;
    }
    return ok();
}

Result<void> CgroupJail::setup_v2(const JailerArgs& args, pid_t pid,
                                  const std::vector<MountEntry>& mounts,
                                  std::string_view self_cgroup) {
    auto mount = std::find_if(mounts.begin(), mounts.end(),
                              [](const MountEntry& m) { return m.fstype == "cgroup2"; });
    if (mount == mounts.end()) return Error::invalid("cgroup: no cgroup2 mount", "/proc/mounts");
    Hierarchy h;
    h.mount_path = mount->path;
    h.mount_dir = UniqueFd(::open(mount->path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!h.mount_dir) return Error::from_errno("cgroup: open", mount->path);
    h.original = own_cgroup(self_cgroup, {});
    std::string parent = args.parent_cgroup_or_default();
    if (args.cgroups.empty()) {
        // Firecracker: with no settings, just move into --parent-cgroup if it exists.
        struct stat st {};
        if (::fstatat(h.mount_dir.get(), parent.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            return ok();
        h.leaf = parent;
    } else {
        h.leaf = parent + "/" + args.id;
    }
    Hierarchy& added = hierarchies_.emplace_back(std::move(h));
    if (!args.cgroups.empty()) {
        EMBER_TRY(make_leaf(added));
        // Enable each controller in cgroup.subtree_control from the root down to the leaf's parent.
        std::vector<std::string> controllers;
        for (const CgroupSetting& setting : args.cgroups) {
            std::string controller = setting.controller();
            // Core interface files (cgroup.max.descendants, ...) need no controller.
            if (controller != "cgroup" && !contains(controllers, controller))
                controllers.push_back(controller);
        }
        std::vector<std::string> levels{""};
        std::string current;
        for (const std::string& part : split(parent, '/'))
            levels.push_back(current = join(current, part));
        for (const std::string& level : levels) {
            for (const std::string& controller : controllers) {
                std::string rel = join(level, "cgroup.subtree_control");
                EMBER_TRY(write_at(added.mount_dir.get(),
                                   level.empty() ? "cgroup.subtree_control" : rel, "+" + controller,
                                   added.mount_path + "/" + rel));
            }
        }
        for (const CgroupSetting& setting : args.cgroups) {
            std::string rel = join(added.leaf, setting.file);
            EMBER_TRY(
                write_at(added.mount_dir.get(), rel, setting.value, added.mount_path + "/" + rel));
        }
    }
    std::string procs = join(added.leaf, "cgroup.procs");
    EMBER_TRY(write_at(added.mount_dir.get(), procs, std::to_string(pid),
                       added.mount_path + "/" + procs));
    added.joined = true;
    return ok();
}

void CgroupJail::rollback() {
    for (auto h = hierarchies_.rbegin(); h != hierarchies_.rend(); ++h) {
        if (h->joined) {
            // "0" is the writing process itself, whatever pid namespace it is in.
            std::string back =
                join(h->original, version_ == CgroupVersion::kV1 ? "tasks" : "cgroup.procs");
            if (auto moved = write_at(h->mount_dir.get(), back, "0", h->mount_path + "/" + back);
                !moved) {
                std::fprintf(stderr, "ember-jailer: rollback: %s\n",
                             moved.error().message().c_str());
            }
        }
        for (auto dir = h->created.rbegin(); dir != h->created.rend(); ++dir) {
            if (::unlinkat(h->mount_dir.get(), dir->c_str(), AT_REMOVEDIR) != 0 &&
                errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY) {
                // A shared parent still in use by another jail stays, silently.
                std::fprintf(stderr, "ember-jailer: rollback: rmdir %s/%s: %s\n",
                             h->mount_path.c_str(), dir->c_str(), std::strerror(errno));
            }
        }
    }
    hierarchies_.clear();
}

std::vector<std::string> CgroupJail::leaf_paths() const {
    std::vector<std::string> paths;
    for (const Hierarchy& h : hierarchies_) paths.push_back(h.mount_path + "/" + h.leaf);
    return paths;
}

}  // namespace ember::jailer
