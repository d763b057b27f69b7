// ScratchDir: a fresh directory under /tmp for one test, removed with all it holds when the test
// ends; with the FIFO and symlink that the file-kind tests name as paths.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace ember::testing {

class ScratchDir {
public:
    // Makes /tmp/<prefix>-XXXXXX; a test cannot go on without it, so failure aborts.
    explicit ScratchDir(std::string_view prefix) {
        std::string pattern = "/tmp/" + std::string(prefix) + "-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp", pattern);
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    const std::string& path() const { return path_; }
    std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

    // A FIFO called `name` in this directory (nobody has either end open); its path.
    std::string make_fifo(std::string_view name) const {
        std::string fifo = *this / name;
        if (::mkfifo(fifo.c_str(), 0600) != 0) fail("mkfifo", fifo);
        return fifo;
    }
    // A symlink called `name` in this directory that points to `target`; its path.
    std::string make_symlink(std::string_view name, const std::string& target) const {
        std::string link = *this / name;
        if (::symlink(target.c_str(), link.c_str()) != 0) fail("symlink", link);
        return link;
    }

private:
    [[noreturn]] static void fail(const char* what, const std::string& path) {
        std::perror((std::string(what) + " " + path).c_str());
        std::abort();
    }

    std::string path_;
};

}  // namespace ember::testing
