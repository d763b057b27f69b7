#include "vmm/snapshot/state_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "vmm/base/file_open.h"
#include "vmm/base/unique_fd.h"
#include "vmm/persist/byte_io.h"
#include "vmm/snapshot/crc64.h"

namespace ember::snapshot {

std::vector<uint8_t> encode_state_file(const StateFile& file) {
    ByteWriter w;
    w.u64(kStateMagic);
    w.u32(file.arch);
    w.u16(file.major);
    w.u16(file.minor);
    w.u64(0);  // Total size, patched below.
    for (const Section& s : file.sections) {
        w.u32(s.tag);
        w.u32(s.flags);
        w.u64(s.payload.size());
        w.bytes(s.payload);
    }
    w.patch_u64(16, w.size() + kCrcBytes);
    w.u64(crc64(w.data()));
    return w.take();
}

Result<StateFile> decode_state_file(std::span<const uint8_t> bytes) {
    // Identity first, so that a wrong file gets the most useful message even when it is short.
    ByteReader header(bytes);
    if (bytes.size() >= 8 && EMBER_TRY(header.u64()) != kStateMagic) {
        return Error::invalid("not an Ember snapshot state file", "bad magic");
    }
    StateFile file;
    if (bytes.size() >= 12) {
        file.arch = EMBER_TRY(header.u32());
        if (file.arch != kArchX86_64) {
            return Error::invalid(
                "snapshot from another architecture",
                fmt::format("architecture tag {:#x}, this Ember is x86_64 ({:#x})", file.arch,
                            kArchX86_64));
        }
    }
    if (bytes.size() >= 16) {
        file.major = EMBER_TRY(header.u16());
        file.minor = EMBER_TRY(header.u16());
        if (file.major != kFormatMajor) {
            return Error::invalid("unsupported snapshot format version",
                                  fmt::format("file is {}.{}, this Ember reads {}.x", file.major,
                                              file.minor, kFormatMajor));
        }
    }
    if (bytes.size() > kMaxStateFileBytes) {
        return Error::invalid("snapshot state file too large",
                              fmt::format("{} bytes, limit {}", bytes.size(), kMaxStateFileBytes));
    }
    if (bytes.size() < kHeaderBytes + kCrcBytes) {
        return Error::invalid("snapshot state truncated",
                              fmt::format("{} bytes, shorter than header and CRC", bytes.size()));
    }
    uint64_t total = EMBER_TRY(header.u64());
    if (total != bytes.size()) {
        return Error::invalid(
            total > bytes.size() ? "snapshot state truncated" : "snapshot state has trailing bytes",
            fmt::format("header says {} bytes, file has {}", total, bytes.size()));
    }
    size_t body = bytes.size() - kCrcBytes;
    ByteReader crc_reader(bytes.subspan(body), body);
    uint64_t stored_crc = EMBER_TRY(crc_reader.u64());
    uint64_t actual_crc = crc64(bytes.first(body));
    if (stored_crc != actual_crc) {
        return Error::invalid("snapshot state corrupted",
                              fmt::format("CRC64 mismatch: stored {:#018x}, computed {:#018x}",
                                          stored_crc, actual_crc));
    }

    ByteReader r(bytes.subspan(kHeaderBytes, body - kHeaderBytes), kHeaderBytes);
    while (!r.at_end()) {
        Section s;
        s.file_offset = r.file_offset();
        if (file.sections.size() == kMaxSections) {
            return Error::invalid(
                "too many snapshot sections",
                fmt::format("more than {}, the next at offset {}", kMaxSections, s.file_offset));
        }
        if (r.remaining() < kSectionHeaderBytes) {
            return Error::invalid("snapshot section header truncated",
                                  fmt::format("at offset {}", s.file_offset));
        }
        s.tag = EMBER_TRY(r.u32());
        s.flags = EMBER_TRY(r.u32());
        uint64_t length = EMBER_TRY(r.u64());
        if (length > r.remaining()) {
            return Error::invalid(
                "snapshot section length past the end",
                fmt::format("section tag {} at offset {} claims {} bytes, {} left", s.tag,
                            s.file_offset, length, r.remaining()));
        }
        std::span<const uint8_t> payload = EMBER_TRY(r.bytes(static_cast<size_t>(length)));
        s.payload.assign(payload.begin(), payload.end());
        file.sections.push_back(std::move(s));
    }
    return file;
}

Result<void> write_state_file(const std::string& path, std::span<const uint8_t> bytes) {
    UniqueFd fd =
        EMBER_TRY(open_named_file(path, FileAccess::kTruncateOrCreate, FileKinds::kRegular,
                                  IoMode::kBlocking, "open snapshot state file"))
            .fd;
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("write snapshot state file", path);
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) < 0) return Error::from_errno("fsync snapshot state file", path);
    return ok();
}

Result<std::vector<uint8_t>> read_at_most(const UniqueFd& fd, size_t size_hint, size_t limit,
                                          const std::string& path) {
    // Sized from the hint but never past one byte over the limit, whatever the hint said:
    // reaching that byte means the file is too large, however it got there.
    const size_t cap = limit + 1;
    std::vector<uint8_t> bytes(std::min(size_hint, limit) + 1);
    size_t done = 0;
    for (;;) {
        if (done == bytes.size()) {
            if (done == cap) {
                return Error::invalid("snapshot state file too large",
                                      fmt::format("{}: more than {} bytes", path, limit));
            }
            bytes.resize(std::min(cap, 2 * done));
        }
        ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("read snapshot state file", path);
        if (n == 0) break;  // End of file; one that shrank under us decodes as truncated.
        done += static_cast<size_t>(n);
    }
    bytes.resize(done);
    return bytes;
}

Result<std::vector<uint8_t>> read_state_file(const std::string& path) {
    UniqueFd fd = EMBER_TRY(open_named_file(path, FileAccess::kReadOnly, FileKinds::kRegular,
                                            IoMode::kBlocking, "open snapshot state file"))
                      .fd;
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return Error::from_errno("fstat snapshot state file", path);
    if (!S_ISREG(st.st_mode)) return Error::invalid("snapshot state is not a regular file", path);
    if (static_cast<uint64_t>(st.st_size) > kMaxStateFileBytes) {
        return Error::invalid(
            "snapshot state file too large",
            fmt::format("{}: {} bytes, limit {}", path, st.st_size, kMaxStateFileBytes));
    }
    return read_at_most(fd, static_cast<size_t>(st.st_size), kMaxStateFileBytes, path);
}

}  // namespace ember::snapshot
