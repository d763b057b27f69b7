#include "vmm/base/event_fd.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace ember {

Result<EventFd> EventFd::create(unsigned initial) {
    int fd = ::eventfd(initial, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return Error::from_errno("eventfd");
    return EventFd(UniqueFd(fd));
}

Result<void> EventFd::write(uint64_t value) const {
    if (::write(fd_.get(), &value, sizeof(value)) != sizeof(value)) {
        return Error::from_errno("eventfd write");
    }
    return ok();
}

Result<uint64_t> EventFd::read() const {
    uint64_t value = 0;
    if (::read(fd_.get(), &value, sizeof(value)) != sizeof(value)) {
        return Error::from_errno("eventfd read");
    }
    return value;
}

}  // namespace ember
