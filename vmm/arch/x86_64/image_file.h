// ImageFile: bounds-checked reads from a kernel or initrd image. Every offset and length taken
// from the image is checked against the file size before the read, and reads go straight into
// GuestMemory slices, so a hostile image can name neither a file range nor a guest range that
// does not exist.
// Borrows the fd: the caller owns it (a UniqueFd) for the duration of the load.
#pragma once

#include <cstdint>
#include <span>
#include <type_traits>

#include "vmm/base/result.h"
#include "vmm/memory/guest_memory.h"

namespace ember::x86 {

class ImageFile {
public:
    // `what` names the image in error messages ("kernel", "initrd").
    static Result<ImageFile> open(int fd, const char* what);

    uint64_t size_bytes() const { return size_bytes_; }
    const char* what() const { return what_; }

    // True if [offset, offset + len) lies inside the file, without overflow.
    bool contains(uint64_t offset, uint64_t len) const {
        return offset <= size_bytes_ && len <= size_bytes_ - offset;
    }

    // Reads exactly out.size() bytes at `offset`; an error if the file is shorter.
    Result<void> read(uint64_t offset, std::span<uint8_t> out) const;

    template <typename T>
    Result<T> read_obj(uint64_t offset) const {
        static_assert(std::is_trivially_copyable_v<T>);
        T value{};
        EMBER_TRY(read(offset, {reinterpret_cast<uint8_t*>(&value), sizeof(T)}));
        return value;
    }

    // Copies [offset, offset + len) of the file to guest memory at `gpa`.
    Result<void> load(const GuestMemory& mem, GuestAddress gpa, uint64_t offset,
                      uint64_t len) const;

private:
    ImageFile(int fd, uint64_t size_bytes, const char* what)
        : fd_(fd), size_bytes_(size_bytes), what_(what) {}

    int fd_;
    uint64_t size_bytes_;
    const char* what_;
};

}  // namespace ember::x86
