// The KVM structures with a flexible array, laid out as the kernel expects. Linux's uapi headers
// declare `entries` through __DECLARE_FLEX_ARRAY, whose empty struct has size 1 in C++: there
// sizeof(kvm_cpuid2) and sizeof(kvm_msrs) are 12, not 8, so both the ioctl numbers (which encode
// the size) and the entries' offset are wrong and KVM answers EINVAL. Ember uses these instead.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace ember::kvm::abi {

// struct kvm_cpuid2 and struct kvm_msrs without their flexible arrays.
struct ArrayHeader {
    uint32_t count;
    uint32_t padding;
};
static_assert(sizeof(ArrayHeader) == 8);
static_assert(sizeof(kvm_cpuid_entry2) == 40);
static_assert(sizeof(kvm_msr_entry) == 16);

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, ArrayHeader);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, ArrayHeader);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, ArrayHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, ArrayHeader);
inline constexpr unsigned long kGetCpuid2 = _IOWR(KVMIO, 0x91, ArrayHeader);
// struct kvm_xsave's fixed part is 4096 bytes; kvm_msr_list's header is one u32.
struct XsaveRegion {
    uint32_t region[1024];
};
inline constexpr unsigned long kGetXsave = _IOR(KVMIO, 0xa4, XsaveRegion);
inline constexpr unsigned long kSetXsave = _IOW(KVMIO, 0xa5, XsaveRegion);
inline constexpr unsigned long kGetXsave2 = _IOR(KVMIO, 0xcf, XsaveRegion);
inline constexpr unsigned long kGetMsrIndexList = _IOWR(KVMIO, 0x02, uint32_t);
// The values a C compiler computes from linux/kvm.h (the seccomp policy allows these numbers).
static_assert(kGetMsrs == 0xc008ae88 && kGetCpuid2 == 0xc008ae91 && kGetXsave == 0x9000aea4 &&
              kGetXsave2 == 0x9000aecf && kGetMsrIndexList == 0xc004ae02);

// A header followed by `count` entries of T, 8-byte aligned, as one ioctl argument.
template <typename T>
class ArrayBuffer {
public:
    explicit ArrayBuffer(size_t count)
        : words_((sizeof(ArrayHeader) + count * sizeof(T) + 7) / 8, 0) {
        set_count(count);
    }
    explicit ArrayBuffer(std::span<const T> entries) : ArrayBuffer(entries.size()) {
        std::memcpy(bytes() + sizeof(ArrayHeader), entries.data(), entries.size() * sizeof(T));
    }

    void* data() { return words_.data(); }
    size_t count() const {
        ArrayHeader h;
        std::memcpy(&h, words_.data(), sizeof(h));
        return h.count;
    }
    std::vector<T> entries() const {
        std::vector<T> out(count());
        std::memcpy(out.data(),
                    reinterpret_cast<const uint8_t*>(words_.data()) + sizeof(ArrayHeader),
                    out.size() * sizeof(T));
        return out;
    }

private:
    uint8_t* bytes() { return reinterpret_cast<uint8_t*>(words_.data()); }
    void set_count(size_t count) {
        ArrayHeader h{static_cast<uint32_t>(count), 0};
        std::memcpy(words_.data(), &h, sizeof(h));
    }
    std::vector<uint64_t> words_;
};

}  // namespace ember::kvm::abi
