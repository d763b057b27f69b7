#include "vmm/snapshot/working_set.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ember::snapshot {
namespace {

constexpr char kMagic[8] = {'E', 'M', 'B', 'E', 'R', 'W', 'S', '\0'};

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t get_u64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}
uint32_t get_u32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
           static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// One 64-bit word into the running hash (MurmurHash3's mixing steps): fast enough that the
// sample costs well under a millisecond.
uint64_t mix(uint64_t h, uint64_t word) {
    word *= 0x87c37b91114253d5ull;
    word = (word << 31) | (word >> 33);
    word *= 0x4cf5ad432745937full;
    h ^= word;
    h = (h << 27) | (h >> 37);
    return h * 5 + 0x52dce729;
}

Result<void> write_all(int fd, std::span<const uint8_t> bytes, const std::string& path) {
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("write the working-set record", path);
        done += static_cast<size_t>(n);
    }
    return ok();
}

}  // namespace

uint64_t working_set_fingerprint(std::span<const uint8_t> memory, std::span<const uint64_t> offsets,
                                 uint64_t page_size) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ offsets.size();
    const size_t samples = std::min(offsets.size(), kFingerprintSamplePages);
    const size_t bytes =
        static_cast<size_t>(std::min<uint64_t>(page_size, kFingerprintBytesPerPage));
    for (size_t i = 0; i < samples; ++i) {
        uint64_t offset = offsets[i * offsets.size() / samples];
        h = mix(h, offset);
        if (offset > memory.size() || bytes > memory.size() - offset) continue;
        for (size_t b = 0; b + 8 <= bytes; b += 8) {
            uint64_t word;
            std::memcpy(&word, memory.data() + offset + b, sizeof(word));
            h = mix(h, word);
        }
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

Result<WorkingSet> make_working_set(std::span<const uint8_t> memory, std::vector<uint64_t> offsets,
                                    uint64_t page_size, std::vector<uint64_t> written) {
    std::sort(written.begin(), written.end());
    written.erase(std::unique(written.begin(), written.end()), written.end());
    offsets.insert(offsets.end(), written.begin(), written.end());
    std::sort(offsets.begin(), offsets.end());
    offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
    if (offsets.size() > kMaxWorkingSetPages) {
        return Error::invalid(
            "working set too large",
            fmt::format("{} pages, at most {}", offsets.size(), kMaxWorkingSetPages));
    }
    for (uint64_t offset : offsets) {
        if (offset % page_size != 0 || offset > memory.size() ||
            page_size > memory.size() - offset) {
            return Error::invalid(
                "working set", fmt::format("page {:#x} is not a page of the memory file", offset));
        }
    }
    const uint64_t fingerprint = working_set_fingerprint(memory, offsets, page_size);
    WorkingSet set{.page_size = page_size,
                   .memory_file_bytes = memory.size(),
                   .fingerprint = fingerprint,
                   .offsets = std::move(offsets),
                   .written = std::move(written)};
    return set;
}

std::vector<uint8_t> encode_working_set(const WorkingSet& set) {
    std::vector<uint8_t> out(kMagic, kMagic + sizeof(kMagic));
    out.reserve(kWorkingSetHeaderBytes + 8 * set.offsets.size());
    put_u32(out, kWorkingSetVersion);
    put_u32(out, 0);
    put_u64(out, set.page_size);
    put_u64(out, set.memory_file_bytes);
    put_u64(out, set.fingerprint);
    put_u64(out, set.offsets.size());
    // Both lists are sorted: one merge pass flags the written pages.
    auto written = set.written.begin();
    for (uint64_t offset : set.offsets) {
        while (written != set.written.end() && *written < offset) ++written;
        const bool flag = written != set.written.end() && *written == offset;
        put_u64(out, offset | (flag ? kWrittenFlag : 0));
    }
    return out;
}

Result<WorkingSet> decode_working_set(std::span<const uint8_t> bytes) {
    const char* what = "working-set record";
    // The magic first: an old text record or another file is named as such, however short.
    if (bytes.size() >= sizeof(kMagic) && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
        return Error::invalid(what, "not a working-set record (wrong magic)");
    }
    if (bytes.size() < kWorkingSetHeaderBytes) {
        return Error::invalid(what, fmt::format("truncated: {} bytes, the header alone is {}",
                                                bytes.size(), kWorkingSetHeaderBytes));
    }
    uint32_t version = get_u32(bytes.data() + 8);
    if (version != 1 && version != kWorkingSetVersion) {
        return Error::invalid(what, fmt::format("version {}, this reader reads versions 1 to {}",
                                                version, kWorkingSetVersion));
    }
    WorkingSet set;
    set.page_size = get_u64(bytes.data() + 16);
    set.memory_file_bytes = get_u64(bytes.data() + 24);
    set.fingerprint = get_u64(bytes.data() + 32);
    uint64_t count = get_u64(bytes.data() + 40);
    if (set.page_size < 4096 || (set.page_size & (set.page_size - 1)) != 0) {
        return Error::invalid(what, fmt::format("bad page size {}", set.page_size));
    }
    if (count > kMaxWorkingSetPages) {
        return Error::invalid(what,
                              fmt::format("{} pages, at most {}", count, kMaxWorkingSetPages));
    }
    if (bytes.size() - kWorkingSetHeaderBytes != count * 8) {
        return Error::invalid(what, fmt::format("{} bytes for {} pages: {}", bytes.size(), count,
                                                bytes.size() - kWorkingSetHeaderBytes < count * 8
                                                    ? "truncated"
                                                    : "trailing bytes"));
    }
    set.offsets.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t offset = get_u64(bytes.data() + kWorkingSetHeaderBytes + 8 * i);
        const bool written = version >= 2 && (offset & kWrittenFlag) != 0;
        if (version >= 2) offset &= ~kWrittenFlag;
        if (offset % set.page_size != 0) {
            return Error::invalid(what, fmt::format("page offset {:#x} is not a multiple of the "
                                                    "page size {}",
                                                    offset, set.page_size));
        }
        if (offset > set.memory_file_bytes || set.page_size > set.memory_file_bytes - offset) {
            return Error::invalid(what, fmt::format("page offset {:#x} is outside the {}-byte "
                                                    "memory file",
                                                    offset, set.memory_file_bytes));
        }
        if (!set.offsets.empty() && offset <= set.offsets.back()) {
            return Error::invalid(what, fmt::format("page offset {:#x} is not above {:#x}: not "
                                                    "sorted or repeated",
                                                    offset, set.offsets.back()));
        }
        set.offsets.push_back(offset);
        if (written) set.written.push_back(offset);
    }
    return set;
}

Result<void> check_working_set(const WorkingSet& set, std::span<const uint8_t> memory,
                               uint64_t page_size, const std::string& path) {
    if (set.page_size != page_size) {
        return Error::invalid("working-set record",
                              fmt::format("{} has {}-byte pages, the VM's memory has {}-byte pages",
                                          path, set.page_size, page_size));
    }
    if (set.memory_file_bytes != memory.size()) {
        return Error::invalid(
            "working-set record",
            fmt::format("the working-set record {} was recorded from another memory file (of {} "
                        "bytes; this one has {})",
                        path, set.memory_file_bytes, memory.size()));
    }
    uint64_t here = working_set_fingerprint(memory, set.offsets, set.page_size);
    if (set.fingerprint != here) {
        return Error::invalid(
            "working-set record",
            fmt::format("the working-set record {} was recorded from another memory file (its "
                        "sampled pages differ: fingerprint {:#018x} recorded, {:#018x} here)",
                        path, set.fingerprint, here));
    }
    return ok();
}

Result<UniqueFd> open_regular_file(const std::string& path, const char* what) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return Error::from_errno(what, path);
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return Error::from_errno(what, path);
    if (!S_ISREG(st.st_mode)) return Error::invalid(what, path + ": not a regular file");
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) < 0) {
        return Error::from_errno(what, path);
    }
    return fd;
}

Result<MemoryFileMapping> map_memory_file_readonly(const std::string& path) {
    UniqueFd fd = EMBER_TRY(open_regular_file(path, "open memory file"));
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return Error::from_errno("fstat memory file", path);
    if (st.st_size == 0) return Error::invalid("memory file is empty", path);
    MmapRegion map = EMBER_TRY(MmapRegion::of_file(fd.get(), static_cast<size_t>(st.st_size), 0,
                                                   PROT_READ, MAP_PRIVATE | MAP_NORESERVE));
    return MemoryFileMapping{.path = path, .map = std::move(map)};
}

Result<WorkingSet> read_working_set(const std::string& path) {
    UniqueFd fd = EMBER_TRY(open_regular_file(path, "open the working-set record"));
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return Error::from_errno("fstat working-set record", path);
    if (static_cast<uint64_t>(st.st_size) > kMaxWorkingSetFileBytes) {
        return Error::invalid(
            "working-set record too large",
            fmt::format("{}: {} bytes, at most {}", path, st.st_size, kMaxWorkingSetFileBytes));
    }
    // Read at most the bound plus one byte, even if the file grows meanwhile.
    std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size) + 1);
    size_t got = 0;
    while (got < bytes.size()) {
        ssize_t n = ::read(fd.get(), bytes.data() + got, bytes.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("read the working-set record", path);
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    if (got > static_cast<uint64_t>(st.st_size)) {
        return Error::invalid("working-set record", path + ": grew while read");
    }
    bytes.resize(got);
    Result<WorkingSet> set = decode_working_set(bytes);
    if (!set) return set.error().within("read the working-set record", path);
    return set;
}

Result<void> write_working_set(const std::string& path, const WorkingSet& set) {
    std::vector<uint8_t> bytes = encode_working_set(set);
    // Beside the target, so that rename() is atomic (same file system); O_EXCL refuses to write
    // through a link or FIFO someone left at the temporary name.
    std::string temp = fmt::format("{}.tmp.{}", path, ::getpid());
    ::unlink(temp.c_str());
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) return Error::from_errno("create the working-set record", temp);
    Result<void> written = write_all(fd.get(), bytes, temp);
    if (written && ::fsync(fd.get()) < 0) {
        written = Error::from_errno("fsync the working-set record", temp);
    }
    if (written && ::rename(temp.c_str(), path.c_str()) < 0) {
        written = Error::from_errno("rename the working-set record", path);
    }
    if (!written) ::unlink(temp.c_str());
    return written;
}

std::vector<PageRun> coalesce_page_runs(std::span<const uint64_t> offsets, uint64_t page_size,
                                        const std::function<int64_t(uint64_t)>& key_of) {
    std::vector<PageRun> runs;
    for (uint64_t offset : offsets) {
        int64_t key = key_of(offset);
        if (key < 0) continue;
        if (!runs.empty()) {
            PageRun& last = runs.back();
            if (last.key == key && last.file_offset + last.pages * page_size == offset) {
                ++last.pages;
                continue;
            }
        }
        runs.push_back({.file_offset = offset, .pages = 1, .key = key});
    }
    return runs;
}

}  // namespace ember::snapshot
