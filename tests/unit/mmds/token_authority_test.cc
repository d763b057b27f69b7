#include "vmm/mmds/token_authority.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/unit/mmds/fake_clock.h"

namespace ember::mmds {
namespace {

TEST(TokenAuthorityTest, TokensHaveFirecrackersLengthAndAreValid) {
    FakeClock clock;
    TokenAuthority authority(&clock);
    auto token = authority.generate(60);
    ASSERT_TRUE(token);
    EXPECT_EQ(token->size(), 48u);
    EXPECT_TRUE(authority.is_valid(*token));
    auto other = authority.generate(60);
    ASSERT_TRUE(other);
    EXPECT_NE(*token, *other);
}

TEST(TokenAuthorityTest, TtlOutOfBoundsIsRefusedWithFirecrackersText) {
    TokenAuthority authority;
    for (uint32_t ttl : {0u, 21601u}) {
        auto r = authority.generate(ttl);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().detail(),
                  "Invalid time to live value provided for token: " + std::to_string(ttl) +
                      ". Please provide a value between 1 and 21600.");
    }
    EXPECT_TRUE(authority.generate(1));
    EXPECT_TRUE(authority.generate(21600));
}

TEST(TokenAuthorityTest, TokensExpireAfterTheirTtl) {
    FakeClock clock;
    TokenAuthority authority(&clock);
    const std::string token = *authority.generate(1);
    clock.advance_ms(999);
    EXPECT_TRUE(authority.is_valid(token));
    clock.advance_ms(1);
    EXPECT_FALSE(authority.is_valid(token));
}

TEST(TokenAuthorityTest, ForeignAndMalformedTokensAreInvalid) {
    TokenAuthority authority;
    TokenAuthority other;
    const std::string token = *other.generate(60);
    EXPECT_FALSE(authority.is_valid(token));
    EXPECT_FALSE(authority.is_valid(""));
    EXPECT_FALSE(authority.is_valid("INVALID_TOKEN"));
    EXPECT_FALSE(authority.is_valid(std::string(71, 'A')));
    const std::string mine = *authority.generate(60);
    std::string changed = mine;
    changed[5] = changed[5] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(authority.is_valid(changed));
    EXPECT_FALSE(authority.is_valid(mine + "="));
    EXPECT_FALSE(authority.is_valid(mine.substr(0, 44)));
}

TEST(TokenAuthorityTest, TheTableForgetsTheOldestWhenFull) {
    FakeClock clock;
    TokenAuthority authority(&clock);
    const std::string first = *authority.generate(600);
    const std::string second = *authority.generate(600);
    for (size_t i = 2; i < TokenAuthority::kMaxTokens; ++i) ASSERT_TRUE(authority.generate(600));
    EXPECT_TRUE(authority.is_valid(first));
    const std::string newest = *authority.generate(600);
    EXPECT_FALSE(authority.is_valid(first));
    EXPECT_TRUE(authority.is_valid(second));
    EXPECT_TRUE(authority.is_valid(newest));
}

TEST(Base64Test, RoundTripsAndRefusesNonCanonicalText) {
    const std::vector<uint8_t> data = {0x00, 0xff, 0x10, 0x80, 0x7f};
    for (size_t n = 0; n <= data.size(); ++n) {
        const std::string text = base64_encode(data.data(), n);
        uint8_t out[8];
        size_t written = 0;
        ASSERT_TRUE(base64_decode(text, out, sizeof out, written)) << text;
        ASSERT_EQ(written, n);
        EXPECT_EQ(std::vector<uint8_t>(out, out + n),
                  std::vector<uint8_t>(data.begin(), data.begin() + static_cast<long>(n)));
    }
    EXPECT_EQ(base64_encode(reinterpret_cast<const uint8_t*>("foobar"), 6), "Zm9vYmFy");
    EXPECT_EQ(base64_encode(reinterpret_cast<const uint8_t*>("fo"), 2), "Zm8=");
    uint8_t out[8];
    size_t written = 0;
    for (const char* bad : {"Zm8", "Zm9=", "Z===", "Zm=8", "Zm8=Zm8=", "Zm 8", "Zm-_"}) {
        EXPECT_FALSE(base64_decode(bad, out, sizeof out, written)) << bad;
    }
    EXPECT_FALSE(base64_decode("Zm9vYmFyZm9v", out, 8, written));  // Too long for `out`.
}

}  // namespace
}  // namespace ember::mmds
