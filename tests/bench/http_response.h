// read_response: reads one HTTP response with a Content-Length body from a blocking socket, for
// the API benchmarks' minimal clients.
#pragma once

#include <sys/socket.h>

#include <cstdlib>
#include <string>

namespace ember::bench {

// The size of the first whole response in `buffer` (head and Content-Length body), or 0 while
// it is still incomplete.
inline size_t complete_response_size(const std::string& buffer) {
    size_t head_end = buffer.find("\r\n\r\n");
    if (head_end == std::string::npos) return 0;
    size_t cl = buffer.find("Content-Length: ");
    size_t length = (cl != std::string::npos && cl < head_end)
                        ? std::strtoul(buffer.c_str() + cl + 16, nullptr, 10)
                        : 0;
    return buffer.size() >= head_end + 4 + length ? head_end + 4 + length : 0;
}

// Consumes one response from `buffer` (reading more from `fd` as needed); false on EOF.
inline bool read_response(int fd, std::string& buffer) {
    for (;;) {
        if (size_t size = complete_response_size(buffer); size > 0) {
            buffer.erase(0, size);
            return true;
        }
        char chunk[4096];
        ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) return false;
        buffer.append(chunk, static_cast<size_t>(n));
    }
}

}  // namespace ember::bench
