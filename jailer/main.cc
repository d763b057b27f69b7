// ember-jailer: builds a jail (chroot, namespaces, cgroups, uid/gid, rlimits) and execs ember.
#include <getopt.h>

#include <cstdio>

namespace {

constexpr const char* kUsage = R"(Usage: ember-jailer --id ID --exec-file PATH --uid UID --gid GID [OPTIONS] [-- EMBER ARGS]
Confines one ember process, with the flags of Firecracker's jailer.

  --help      Print this help and exit
  --version   Print the version and exit
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
            case 'V': std::printf("ember-jailer v%s\n", EMBER_VERSION); return 0;
            default: std::fputs(kUsage, stderr); return 1;
        }
    }
    std::fputs(kUsage, stderr);
    return 1;
}
