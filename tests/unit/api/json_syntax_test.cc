// serde_json's words for a document that does not parse: Firecracker's tests match them in API
// answers and in the --metadata log line (test_start_with_invalid_metadata: "EOF while parsing an
// object").
#include <gtest/gtest.h>

#include "api/json/json_reader.h"

namespace ember::api {
namespace {

std::string syntax_error(std::string_view text) {
    rapidjson::Document doc;
    Result<void> parsed = parse_json(text, doc);
    return parsed ? std::string() : parsed.error().detail();
}

TEST(JsonSyntax, ValidJsonHasNone) {
    EXPECT_EQ(syntax_error(R"({"latest": {"meta-data": {}}})"), "");
    EXPECT_EQ(syntax_error(" [1, 2]\n"), "");
}

TEST(JsonSyntax, TruncatedInputNamesWhatWasOpenAtSerdesPosition) {
    EXPECT_EQ(syntax_error(R"({"latest": {"meta-data": {)"),
              "EOF while parsing an object at line 1 column 26");
    EXPECT_EQ(syntax_error("{\"a\"\n"), "EOF while parsing an object at line 2 column 0");
    EXPECT_EQ(syntax_error("[1, [2"), "EOF while parsing a list at line 1 column 6");
    EXPECT_EQ(syntax_error(R"({"a": )"), "EOF while parsing a value at line 1 column 6");
    EXPECT_EQ(syntax_error(R"({"a": "b)"), "EOF while parsing a string at line 1 column 8");
    EXPECT_EQ(syntax_error(""), "EOF while parsing a value at line 1 column 0");
}

TEST(JsonSyntax, OtherErrorsGiveTheBytesPosition) {
    EXPECT_EQ(syntax_error("invalid_body"), "expected value at line 1 column 1");
    EXPECT_EQ(syntax_error("{\"a\": 1}\nx"), "trailing characters at line 2 column 1");
}

// serde_json's recursion limit (128): 127 levels parse, the 128th opening bracket is refused where
// it stands; brackets in strings do not count, and a syntax error before it is reported instead.
TEST(JsonSyntax, RefusesNestingAtSerdesRecursionLimit) {
    auto nested = [](size_t depth, const std::string& inner = "") {
        return std::string(depth, '[') + inner + std::string(depth, ']');
    };
    EXPECT_EQ(syntax_error(nested(kMaxJsonNesting - 1)), "");
    EXPECT_EQ(syntax_error(nested(kMaxJsonNesting)),
              "recursion limit exceeded at line 1 column 128");
    EXPECT_EQ(syntax_error(" {\"a\":\n" + nested(200) + "}"),
              "recursion limit exceeded at line 2 column 127");
    EXPECT_EQ(syntax_error(nested(10, R"("[[[[\"[[[[{{{{")") + std::string(1000, ' ')), "");
    EXPECT_EQ(syntax_error(nested(100, "x") + nested(200)), "expected value at line 1 column 101");
    EXPECT_EQ(syntax_error(std::string(50000, '[')),
              "recursion limit exceeded at line 1 column 128");
}

}  // namespace
}  // namespace ember::api
