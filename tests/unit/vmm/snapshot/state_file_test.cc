#include "vmm/snapshot/state_file.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <string>

#include "vmm/persist/byte_io.h"
#include "vmm/snapshot/crc64.h"

namespace ember::snapshot {
namespace {

StateFile sample_file() {
    StateFile f;
    f.sections.push_back({.tag = 1, .flags = kSectionMustUnderstand, .payload = {1, 2, 3}});
    f.sections.push_back({.tag = 7, .flags = 0, .payload = {}});
    f.sections.push_back({.tag = 2, .flags = 0, .payload = std::vector<uint8_t>(300, 0xab)});
    return f;
}

std::string error_of(std::span<const uint8_t> bytes) {
    Result<StateFile> decoded = decode_state_file(bytes);
    return decoded ? std::string("decoded") : decoded.error().message();
}

// Rewrites the CRC so that a deliberate edit reaches the checks behind it.
void fix_crc(std::vector<uint8_t>& bytes) {
    uint64_t crc = crc64(std::span<const uint8_t>(bytes).first(bytes.size() - kCrcBytes));
    for (size_t i = 0; i < 8; ++i)
        bytes[bytes.size() - 8 + i] = static_cast<uint8_t>(crc >> (8 * i));
}

TEST(Crc64, MatchesTheXzCheckValue) {
    const std::string text = "123456789";
    EXPECT_EQ(crc64({reinterpret_cast<const uint8_t*>(text.data()), text.size()}),
              0x995DC9BBDF1939FAull);
}

TEST(Crc64, ContinuesARunningValue) {
    std::vector<uint8_t> data(100);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
    std::span<const uint8_t> all(data);
    EXPECT_EQ(crc64(all.subspan(40), crc64(all.first(40))), crc64(all));
}

TEST(ByteReader, RefusesReadsPastTheEndAndNamesTheOffset) {
    std::vector<uint8_t> data = {1, 2, 3};
    ByteReader r(data, 100);
    EXPECT_EQ(*r.u16(), 0x0201);
    Result<uint32_t> v = r.u32();
    ASSERT_FALSE(v);
    EXPECT_NE(v.error().message().find("offset 102"), std::string::npos) << v.error().message();
    EXPECT_EQ(*r.u8(), 3);
    EXPECT_TRUE(r.at_end());
}

TEST(StateFile, RoundTripsHeaderAndSections) {
    std::vector<uint8_t> bytes = encode_state_file(sample_file());
    ASSERT_EQ(bytes.size(), kHeaderBytes + 3 * kSectionHeaderBytes + 303 + kCrcBytes);
    Result<StateFile> decoded = decode_state_file(bytes);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(decoded->major, kFormatMajor);
    EXPECT_EQ(decoded->minor, kFormatMinor);
    EXPECT_EQ(decoded->arch, kArchX86_64);
    ASSERT_EQ(decoded->sections.size(), 3u);
    EXPECT_EQ(decoded->sections[0].tag, 1u);
    EXPECT_EQ(decoded->sections[0].flags, kSectionMustUnderstand);
    EXPECT_EQ(decoded->sections[0].payload, (std::vector<uint8_t>{1, 2, 3}));
    EXPECT_EQ(decoded->sections[0].file_offset, kHeaderBytes);
    EXPECT_TRUE(decoded->sections[1].payload.empty());
    EXPECT_EQ(decoded->sections[2].payload, std::vector<uint8_t>(300, 0xab));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), 8), "EMBERSNP");
}

TEST(StateFile, DetectsAFlippedBitAtEveryOffset) {
    std::vector<uint8_t> bytes = encode_state_file(sample_file());
    for (size_t i = 0; i < bytes.size(); ++i) {
        for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
            std::vector<uint8_t> bad = bytes;
            bad[i] ^= mask;
            EXPECT_FALSE(decode_state_file(bad)) << "flip at offset " << i;
        }
    }
}

TEST(StateFile, DetectsTruncationAtEveryLength) {
    std::vector<uint8_t> bytes = encode_state_file(sample_file());
    for (size_t len = 0; len < bytes.size(); ++len) {
        EXPECT_FALSE(decode_state_file(std::span<const uint8_t>(bytes).first(len)))
            << "truncated to " << len;
    }
}

TEST(StateFile, RefusesWrongMagic) {
    std::vector<uint8_t> bytes = encode_state_file(sample_file());
    bytes[0] = 'X';
    fix_crc(bytes);
    EXPECT_NE(error_of(bytes).find("not an Ember snapshot"), std::string::npos) << error_of(bytes);
    // Even a few bytes of something else are named for what they are, not as "truncated".
    std::vector<uint8_t> elf = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0};
    EXPECT_NE(error_of(elf).find("not an Ember snapshot"), std::string::npos);
}

TEST(StateFile, RefusesAnotherArchitecture) {
    StateFile f = sample_file();
    f.arch = 0xaaaa;
    std::vector<uint8_t> bytes = encode_state_file(f);
    EXPECT_NE(error_of(bytes).find("another architecture"), std::string::npos) << error_of(bytes);
}

TEST(StateFile, RefusesAnotherMajorVersionButAcceptsALaterMinor) {
    StateFile f = sample_file();
    f.major = kFormatMajor + 1;
    std::string error = error_of(encode_state_file(f));
    EXPECT_NE(error.find("unsupported snapshot format version"), std::string::npos) << error;
    EXPECT_NE(error.find(fmt::format("file is 2.{}", kFormatMinor)), std::string::npos) << error;

    f.major = kFormatMajor;
    f.minor = kFormatMinor + 5;
    Result<StateFile> decoded = decode_state_file(encode_state_file(f));
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(decoded->minor, kFormatMinor + 5);
}

TEST(StateFile, RefusesABadCrc) {
    std::vector<uint8_t> bytes = encode_state_file(sample_file());
    bytes[kHeaderBytes + 20] ^= 0x10;
    EXPECT_NE(error_of(bytes).find("CRC64 mismatch"), std::string::npos) << error_of(bytes);
}

TEST(StateFile, RefusesTruncationAndTrailingBytesByTheSizeField) {
    std::vector<uint8_t> bytes = encode_state_file(sample_file());
    std::vector<uint8_t> shorter(bytes.begin(), bytes.end() - 1);
    EXPECT_NE(error_of(shorter).find("truncated"), std::string::npos) << error_of(shorter);
    std::vector<uint8_t> longer = bytes;
    longer.push_back(0);
    EXPECT_NE(error_of(longer).find("trailing bytes"), std::string::npos) << error_of(longer);
}

TEST(StateFile, RefusesASectionLengthPastTheEndEvenWithAValidCrc) {
    std::vector<uint8_t> bytes = encode_state_file(sample_file());
    // The first section's length field sits 8 bytes into its header.
    bytes[kHeaderBytes + 8] = 0xff;
    bytes[kHeaderBytes + 9] = 0xff;
    fix_crc(bytes);
    EXPECT_NE(error_of(bytes).find("section length past the end"), std::string::npos)
        << error_of(bytes);
}

TEST(StateFile, WritesAndReadsAFile) {
    std::string path = ::testing::TempDir() + "/state_file_test.snap";
    std::vector<uint8_t> bytes = encode_state_file(sample_file());
    ASSERT_TRUE(write_state_file(path, bytes));
    Result<std::vector<uint8_t>> read = read_state_file(path);
    ASSERT_TRUE(read) << read.error().message();
    EXPECT_EQ(*read, bytes);
    Result<std::vector<uint8_t>> missing = read_state_file(path + ".missing");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message().find(".missing"), std::string::npos);
    ::unlink(path.c_str());
}

}  // namespace
}  // namespace ember::snapshot
