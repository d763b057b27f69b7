#include "tests/unit/api/raw_http_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace ember::api::testing {

std::string send_and_receive(const std::string& socket, const std::string& bytes,
                             std::chrono::milliseconds timeout) {
    std::string received;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return received;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ::close(fd);
        return received;
    }
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t sent = 0;
    char buf[65536];
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, static_cast<short>(POLLIN | (sent < bytes.size() ? POLLOUT : 0)), 0};
        if (::poll(&p, 1, 100) < 0 && errno != EINTR) break;
        if (p.revents & POLLOUT) {
            ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n > 0) sent += static_cast<size_t>(n);
            // The server answered and closed early (e.g. 413): stop writing, read its answer.
            if (n < 0 && errno != EAGAIN) sent = bytes.size();
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
            if (n > 0) {
                received.append(buf, static_cast<size_t>(n));
            } else if (n == 0 || errno != EAGAIN) {
                break;
            }
        }
    }
    ::close(fd);
    return received;
}

std::vector<int> response_statuses(const std::string& stream) {
    std::vector<int> statuses;
    size_t pos = 0;
    static constexpr std::string_view kStart = "HTTP/1.1 ";
    static constexpr std::string_view kLength = "\r\ncontent-length:";
    while (stream.compare(pos, kStart.size(), kStart) == 0) {
        size_t end = stream.find("\r\n\r\n", pos);
        if (end == std::string::npos) break;
        std::string head = stream.substr(pos, end - pos);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t length = 0;
        if (size_t at = head.find(kLength); at != std::string::npos) {
            length = std::strtoul(head.c_str() + at + kLength.size(), nullptr, 10);
        }
        size_t next = end + 4 + length;
        if (next > stream.size()) break;
        statuses.push_back(std::atoi(stream.c_str() + pos + kStart.size()));
        pos = next;
    }
    return statuses;
}

std::string http_request(const std::string& method, const std::string& path,
                         const std::string& body, bool close) {
    std::string out = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n";
    if (!body.empty()) out += "Content-Type: application/json\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (close) out += "Connection: close\r\n";
    return out + "\r\n" + body;
}

}  // namespace ember::api::testing
