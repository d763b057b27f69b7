// ByteWriter and ByteReader: little-endian integers and byte runs in a growable buffer, and their
// bounds-checked reading. Every read of snapshot input goes through ByteReader, so a short or
// lying file ends in an Error naming the offset, never in a read past the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "vmm/base/result.h"

namespace ember::snapshot {

class ByteWriter {
public:
    void u8(uint8_t v) { bytes_.push_back(v); }
    void u16(uint16_t v) { put_le(v, 2); }
    void u32(uint32_t v) { put_le(v, 4); }
    void u64(uint64_t v) { put_le(v, 8); }
    void bytes(std::span<const uint8_t> data) {
        bytes_.insert(bytes_.end(), data.begin(), data.end());
    }
    void str(std::string_view s) { bytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()}); }
    // A kernel ABI struct as its raw bytes (x86_64 only, which the file header guarantees).
    template <typename T>
    void pod(const T& value) {
        static_assert(std::is_trivially_copyable_v<T>);
        bytes({reinterpret_cast<const uint8_t*>(&value), sizeof(T)});
    }
    // Overwrites 8 bytes written earlier, e.g. a length known only at the end.
    void patch_u64(size_t offset, uint64_t v);

    size_t size() const { return bytes_.size(); }
    const std::vector<uint8_t>& data() const { return bytes_; }
    std::vector<uint8_t> take() { return std::move(bytes_); }

private:
    void put_le(uint64_t v, int n) {
        for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
    std::vector<uint8_t> bytes_;
};

class ByteReader {
public:
    // `base_offset` is where `data` starts in the file, so errors name file offsets.
    explicit ByteReader(std::span<const uint8_t> data, size_t base_offset = 0)
        : data_(data), base_offset_(base_offset) {}

    Result<uint8_t> u8();
    Result<uint16_t> u16();
    Result<uint32_t> u32();
    Result<uint64_t> u64();
    Result<std::span<const uint8_t>> bytes(size_t n);
    Result<void> skip(size_t n);

    size_t remaining() const { return data_.size() - pos_; }
    size_t position() const { return pos_; }
    size_t file_offset() const { return base_offset_ + pos_; }
    bool at_end() const { return pos_ == data_.size(); }

private:
    Result<uint64_t> le(size_t n);
    std::span<const uint8_t> data_;
    size_t base_offset_ = 0;
    size_t pos_ = 0;
};

}  // namespace ember::snapshot
