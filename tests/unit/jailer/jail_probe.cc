// jail_probe: a tiny static program the jailer tests run in place of ember. It prints what it
// sees, one `key=value` line each, for the test to check.
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

extern char** environ;

namespace {

std::string listing(const char* path) {
    std::vector<std::string> names;
    if (DIR* dir = opendir(path)) {
        while (dirent* e = readdir(dir)) {
            std::string name = e->d_name;
            if (name != "." && name != "..") names.push_back(name);
        }
        closedir(dir);
    }
    std::sort(names.begin(), names.end());
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ",") + n;
    return out;
}

std::string file_text(const char* path) {
    std::string out;
    if (FILE* f = std::fopen(path, "r")) {
        char buf[512];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
        std::fclose(f);
    } else {
        return "<none>";
    }
    std::replace(out.begin(), out.end(), '\n', ';');
    return out;
}

int line_count(const char* path) {
    std::string text = file_text(path);
    if (text == "<none>") return -1;
    return static_cast<int>(std::count(text.begin(), text.end(), ';'));
}

std::string node(const char* path) {
    struct stat st {};
    if (lstat(path, &st) != 0) return "missing";
    char buf[96];
    std::snprintf(buf, sizeof(buf), "%s:%u:%u:%u:%u:%o", S_ISCHR(st.st_mode) ? "c" : "other",
                  major(st.st_rdev), minor(st.st_rdev), st.st_uid, st.st_gid, st.st_mode & 07777);
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    // `--write-to FILE` (after the jailer's own flags): print there instead of stdout, for runs
    // whose stdout is /dev/null (--daemonize).
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string(argv[i]) == "--write-to" && !std::freopen(argv[i + 1], "w", stdout))
            return 3;
    }
    struct stat in {};
    fstat(0, &in);
    std::printf("stdin=%s:%u:%u\n", S_ISCHR(in.st_mode) ? "c" : "other", major(in.st_rdev),
                minor(in.st_rdev));
    std::printf("session_leader=%d\n", getsid(0) == getpid() ? 1 : 0);
    std::printf("uid=%u\ngid=%u\neuid=%u\negid=%u\n", getuid(), getgid(), geteuid(), getegid());
    std::printf("groups=%d\n", getgroups(0, nullptr));
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    getresuid(&ruid, &euid, &suid);
    getresgid(&rgid, &egid, &sgid);
    std::printf("suid=%u\nsgid=%u\n", suid, sgid);
    char cwd[4096] = "";
    if (!getcwd(cwd, sizeof(cwd))) std::snprintf(cwd, sizeof(cwd), "<error>");
    std::printf("cwd=%s\n", cwd);
    std::printf("root=%s\n", listing("/").c_str());
    std::printf("dev=%s\n", listing("/dev").c_str());
    std::printf("kvm=%s\ntun=%s\nurandom=%s\nuffd=%s\n", node("/dev/kvm").c_str(),
                node("/dev/net/tun").c_str(), node("/dev/urandom").c_str(),
                node("/dev/userfaultfd").c_str());
    std::printf("mounts=%d\n", line_count("/proc/self/mountinfo"));
    std::printf("pid=%d\n", getpid());
    char netns[64] = "";
    ssize_t len = readlink("/proc/self/ns/net", netns, sizeof(netns) - 1);
    std::printf("netns=%s\n", len > 0 ? netns : "<none>");
    std::printf("cgroup=%s\n", file_text("/proc/self/cgroup").c_str());
    rlimit fsize{}, nofile{};
    getrlimit(RLIMIT_FSIZE, &fsize);
    getrlimit(RLIMIT_NOFILE, &nofile);
    std::printf("fsize=%llu\nnofile=%llu\n", static_cast<unsigned long long>(fsize.rlim_cur),
                static_cast<unsigned long long>(nofile.rlim_cur));
    int env = 0;
    for (char** e = environ; e && *e; ++e) ++env;
    std::printf("env=%d\n", env);
    std::string fds;
    for (int fd = 0; fd < 1024; ++fd) {
        if (fcntl(fd, F_GETFD) >= 0) fds += (fds.empty() ? "" : ",") + std::to_string(fd);
    }
    std::printf("fds=%s\n", fds.c_str());
    std::string args;
    for (int i = 0; i < argc; ++i) args += (i ? " " : "") + std::string(argv[i]);
    std::printf("args=%s\n", args.c_str());
    // `--block-on FIFO`: stay alive (a live jail) until the test opens FIFO for writing.
    std::fflush(stdout);
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string(argv[i]) == "--block-on") {
            int fd = open(argv[i + 1], O_RDONLY);
            if (fd < 0) return 4;
            close(fd);
        }
    }
    return 0;
}
