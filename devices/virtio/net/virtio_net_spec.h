// virtio-net constants (virtio 1.2 §5.1.3). The kernel's <linux/virtio_net.h> is not valid C++
// (a member named `class`), so the few values Ember needs are restated here.
#pragma once

namespace ember::virtio {

inline constexpr unsigned kNetFCsum = 0;
inline constexpr unsigned kNetFGuestCsum = 1;
inline constexpr unsigned kNetFMtu = 3;
inline constexpr unsigned kNetFMac = 5;
inline constexpr unsigned kNetFGuestTso4 = 7;
inline constexpr unsigned kNetFGuestTso6 = 8;
inline constexpr unsigned kNetFGuestUfo = 10;
inline constexpr unsigned kNetFHostTso4 = 11;
inline constexpr unsigned kNetFHostTso6 = 12;
inline constexpr unsigned kNetFHostUfo = 14;
inline constexpr unsigned kNetFMrgRxbuf = 15;

}  // namespace ember::virtio
