#include "vmm/arch/x86_64/image_file.h"

#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace ember::x86 {

Result<ImageFile> ImageFile::open(int fd, const char* what) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return Error::from_errno("fstat", what);
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        return Error::invalid("image", fmt::format("{} is not a regular file", what));
    }
    if (st.st_size < 0) return Error::invalid("image", fmt::format("{} has no size", what));
    return ImageFile(fd, static_cast<uint64_t>(st.st_size), what);
}

Result<void> ImageFile::read(uint64_t offset, std::span<uint8_t> out) const {
    if (!contains(offset, out.size())) {
        return Error::invalid("image", fmt::format("{} is truncated: needs [{:#x}, +{:#x}) but has "
                                                   "{:#x} bytes",
                                                   what_, offset, out.size(), size_bytes_));
    }
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t n =
            ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno("pread", what_);
        }
        if (n == 0) {
            return Error::invalid("image", fmt::format("{} shrank while being read", what_));
        }
        done += static_cast<size_t>(n);
    }
    return ok();
}

Result<void> ImageFile::load(const GuestMemory& mem, GuestAddress gpa, uint64_t offset,
                             uint64_t len) const {
    if (len == 0) return ok();
    if (!contains(offset, len)) {
        return Error::invalid("image", fmt::format("{} is truncated: needs [{:#x}, +{:#x}) but has "
                                                   "{:#x} bytes",
                                                   what_, offset, len, size_bytes_));
    }
    auto dst = mem.slice(gpa, len);
    if (!dst) {
        return Error::invalid("image", fmt::format("{}: [{:#x}, +{:#x}) does not fit in guest RAM",
                                                   what_, gpa.value(), len));
    }
    return read(offset, *dst);
}

}  // namespace ember::x86
