// serde_json's words for the --metadata file, which Firecracker's test_start_with_invalid_metadata
// matches ("EOF while parsing an object").
#include "vmm/json_syntax_error.h"

#include <gtest/gtest.h>

namespace ember {
namespace {

TEST(JsonSyntaxError, ValidJsonHasNone) {
    EXPECT_FALSE(json_syntax_error(R"({"latest": {"meta-data": {}}})"));
    EXPECT_FALSE(json_syntax_error(" [1, 2]\n"));
}

TEST(JsonSyntaxError, TruncatedInputNamesWhatWasOpenAsSerde) {
    EXPECT_EQ(json_syntax_error(R"({"latest": {"meta-data": {)"),
              "EOF while parsing an object at line 1 column 26");
    EXPECT_EQ(json_syntax_error("{\"a\"\n"), "EOF while parsing an object at line 2 column 0");
    EXPECT_EQ(json_syntax_error("[1, [2"), "EOF while parsing a list at line 1 column 6");
    EXPECT_EQ(json_syntax_error(R"({"a": )"), "EOF while parsing a value at line 1 column 6");
    EXPECT_EQ(json_syntax_error(R"({"a": "b)"), "EOF while parsing a string at line 1 column 8");
    EXPECT_EQ(json_syntax_error(R"({"a\"}": )"), "EOF while parsing a value at line 1 column 9");
    EXPECT_EQ(json_syntax_error(""), "EOF while parsing a value at line 1 column 0");
}

TEST(JsonSyntaxError, OtherErrorsGiveTheirPosition) {
    std::optional<std::string> error = json_syntax_error("{\"a\": 1}\nx");
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("at line 2 column 1"), std::string::npos) << *error;
}

}  // namespace
}  // namespace ember
