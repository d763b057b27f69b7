// ember-snapshot: offline snapshot tools.
//   ember-snapshot describe FILE          print what a state file holds (as ember
//                                         --describe-snapshot)
//   ember-snapshot merge-diff [--dense] BASE DIFF
//                                         copy a diff memory file's pages onto its base, in place
#include <cstdio>
#include <string>
#include <string_view>

#include "vmm/snapshot/describe.h"
#include "vmm/snapshot/memory_file.h"

namespace {

constexpr const char* kUsage = R"(Usage: ember-snapshot COMMAND ARGS
  describe FILE          Print the format version and contents of a snapshot state file
  merge-diff [--dense] BASE DIFF
                         Write the pages of the diff memory file DIFF onto its base BASE. Only
                         DIFF's data is copied: its holes are pages it did not write. A DIFF
                         without holes whose zero pages would overwrite data in BASE is refused
                         (it was likely copied without its holes) unless --dense says that every
                         page of DIFF was written.
)";

int merge_diff_main(const std::string& base, const std::string& diff,
                    ember::snapshot::DenseDiff dense) {
    ember::Result<ember::snapshot::MergeStats> stats =
        ember::snapshot::merge_diff(base, diff, dense);
    if (!stats) {
        std::fprintf(stderr, "ember-snapshot: %s\n", stats.error().message().c_str());
        return 1;
    }
    std::printf("merged %s onto %s: %llu bytes in %llu extents\n", diff.c_str(), base.c_str(),
                static_cast<unsigned long long>(stats->bytes_copied),
                static_cast<unsigned long long>(stats->extents));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string_view command = argc > 1 ? argv[1] : "";
    if (command == "describe" && argc == 3) return ember::snapshot::describe_snapshot_main(argv[2]);
    using ember::snapshot::DenseDiff;
    if (command == "merge-diff" && argc == 4) {
        return merge_diff_main(argv[2], argv[3], DenseDiff::kRefuse);
    }
    if (command == "merge-diff" && argc == 5 && std::string_view(argv[2]) == "--dense") {
        return merge_diff_main(argv[3], argv[4], DenseDiff::kAccept);
    }
    if (command == "--help" || command == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    std::fputs(kUsage, stderr);
    return 2;
}
