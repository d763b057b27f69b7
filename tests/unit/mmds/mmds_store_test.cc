#include "vmm/mmds/mmds_store.h"

#include <gtest/gtest.h>

#include <string>

#include "vmm/mmds/json_value.h"

namespace ember::mmds {
namespace {

TEST(MmdsStoreTest, GetBeforeAnyPutIsAnEmptyObject) {
    MmdsStore store;
    EXPECT_EQ(store.get_json(), "{}");
    EXPECT_EQ(store.size_limit(), 51200u);
}

TEST(MmdsStoreTest, PutReplacesTheTreeAndSortsKeys) {
    MmdsStore store;
    ASSERT_TRUE(store.put(R"({"b": 1, "a": {"y": "2", "x": [1, 2.5, null, true]}})"));
    EXPECT_EQ(store.get_json(), R"({"a":{"x":[1,2.5,null,true],"y":"2"},"b":1})");
    ASSERT_TRUE(store.put(R"({"c": "d"})"));
    EXPECT_EQ(store.get_json(), R"({"c":"d"})");
}

TEST(MmdsStoreTest, DuplicateKeysKeepTheLastAsSerdeDoes) {
    MmdsStore store;
    ASSERT_TRUE(store.put(R"({"a": 1, "b": 2, "a": 3})"));
    EXPECT_EQ(store.get_json(), R"({"a":3,"b":2})");
}

TEST(MmdsStoreTest, PutAcceptsAnyJsonValueAsFirecrackerDoes) {
    MmdsStore store;
    ASSERT_TRUE(store.put(R"("text")"));
    EXPECT_EQ(store.get_json(), R"("text")");
    ASSERT_TRUE(store.put("null"));
    EXPECT_EQ(store.get_json(), "{}");
    // Set, even if to null: PATCH now works.
    ASSERT_TRUE(store.patch(R"({"a": "b"})"));
    EXPECT_EQ(store.get_json(), R"({"a":"b"})");
}

TEST(MmdsStoreTest, MalformedJsonLeavesTheStoreUnchanged) {
    MmdsStore store;
    ASSERT_TRUE(store.put(R"({"a": "b"})"));
    for (const char* bad : {"", "{", R"({"a": })", R"({"a": "b"} x)", "[1,]", "\"\xff\""}) {
        auto r = store.put(bad);
        EXPECT_FALSE(r) << bad;
        EXPECT_FALSE(store.patch(bad)) << bad;
    }
    EXPECT_EQ(store.get_json(), R"({"a":"b"})");
}

TEST(MmdsStoreTest, PatchBeforePutIsRefusedWithFirecrackersText) {
    MmdsStore store;
    auto r = store.patch(R"({"a": 1})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "MMDS error: The MMDS data store is not initialized.");
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(store.get_json(), "{}");
}

TEST(MmdsStoreTest, PatchIsAMergePatch) {
    // Firecracker's mod.rs test_json_patch.
    MmdsStore store;
    ASSERT_TRUE(store.put(R"({"name": {"first": "John", "second": "Doe"}, "age": "43",
        "phones": {"home": {"RO": "+40 1234567", "UK": "+44 1234567"}, "mobile": "+44 2345678"}})"));
    ASSERT_TRUE(store.patch(R"({"name": {"second": null, "last": "Kennedy"}, "age": "44",
        "phones": {"home": "+44 1234567", "mobile": {"RO": "+40 2345678", "UK": "+44 2345678"}}})"));
    EXPECT_EQ(store.get_json(),
              R"({"age":"44","name":{"first":"John","last":"Kennedy"},"phones":{"home":"+44 )"
              R"(1234567","mobile":{"RO":"+40 2345678","UK":"+44 2345678"}}})");
}

TEST(MmdsStoreTest, PatchEdgeCasesFollowRfc7396) {
    MmdsStore store;
    ASSERT_TRUE(store.put(R"({"a": "b", "c": {"d": 1}})"));
    // Null members of a new object are dropped; arrays replace whole, nulls inside kept.
    ASSERT_TRUE(store.patch(R"({"n": {"x": null, "y": {"z": null}}, "arr": [null, 1]})"));
    EXPECT_EQ(store.get_json(), R"({"a":"b","arr":[null,1],"c":{"d":1},"n":{"y":{}}})");
    // Removing a key that is not there changes nothing; a scalar replaces an object.
    ASSERT_TRUE(store.patch(R"({"missing": null, "c": 5})"));
    EXPECT_EQ(store.get_json(), R"({"a":"b","arr":[null,1],"c":5,"n":{"y":{}}})");
    // A non-object patch replaces the whole document.
    ASSERT_TRUE(store.patch("[1]"));
    EXPECT_EQ(store.get_json(), "[1]");
    ASSERT_TRUE(store.patch(R"({"k": "v"})"));
    EXPECT_EQ(store.get_json(), R"({"k":"v"})");
}

TEST(MmdsStoreTest, SizeLimitRefusesAndKeepsTheStore) {
    // Firecracker's test_mmds_limit_scenario, scaled: the compact serialization may equal the
    // limit, not exceed it.
    const std::string small = R"({"latest":{"meta-data":{"ami-id":"dummy"}}})";
    MmdsStore store(small.size());
    ASSERT_TRUE(store.put(small));
    auto r = store.put(R"({"latest":{"meta-data":{"ami-id":"dummyX"}}})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(),
              "MMDS limit exceeded error: The MMDS patch request doesn't fit.");
    EXPECT_EQ(store.get_json(), small);
    auto p = store.patch(R"({"x": 1})");
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().message(),
              "MMDS limit exceeded error: The MMDS patch request doesn't fit.");
    EXPECT_EQ(store.get_json(), small);
    // Whitespace in the request does not count: the stored form is compact.
    ASSERT_TRUE(store.put(R"({ "latest" : { "meta-data" : { "ami-id" : "dummy" } } })"));
    ASSERT_TRUE(store.patch(R"({"latest": {"meta-data": {"ami-id": "other"}}})"));
}

TEST(MmdsStoreTest, NestingIsBounded) {
    MmdsStore store(1 << 20);
    std::string ok_depth(kMaxJsonDepth, '[');
    ok_depth += std::string(kMaxJsonDepth, ']');
    EXPECT_TRUE(store.put(ok_depth));
    std::string too_deep(kMaxJsonDepth + 1, '[');
    too_deep += std::string(kMaxJsonDepth + 1, ']');
    EXPECT_FALSE(store.put(too_deep));
    // Far deeper input fails fast, without recursion.
    std::string huge(200000, '[');
    EXPECT_FALSE(store.put(huge));
    std::string objects;
    for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
    EXPECT_FALSE(store.patch(objects));
}

TEST(MmdsStoreTest, SerializationEscapesAsSerdeJson) {
    MmdsStore store;
    ASSERT_TRUE(store.put("{\"k\":\"q\\\"b\\\\s\\/\\u0001\\u001f\\n\\t\\u00e9\\ud83d\\ude00\"}"));
    EXPECT_EQ(store.get_json(),
              "{\"k\":\"q\\\"b\\\\s/\\u0001\\u001f\\n\\t\xc3\xa9\xf0\x9f\x98\x80\"}");
    ASSERT_TRUE(store.put(R"({"i": -5, "u": 18446744073709551615, "d": 12.12, "e": 1e2,
        "z": -0.0})"));
    EXPECT_EQ(store.get_json(),
              R"({"d":12.12,"e":100.0,"i":-5,"u":18446744073709551615,"z":-0.0})");
}

class RenderTest : public ::testing::Test {
protected:
    void SetUp() override {
        // Firecracker's data_store.rs test_get_value document.
        ASSERT_TRUE(store_.put(R"({"name": {"first": "John", "second": "Doe"}, "age": 43,
            "phones": ["+401234567", "+441234567"], "member": false, "shares_percentage": 12.12,
            "balance": -24, "json_string": "{\n  \"hello\": \"world\"\n}",
            "nested": {"obj": {"k": "v"}, "s": "t"}, "a/b": {"~c": "escaped"}})"));
    }
    std::optional<std::string> imds(std::string_view p) {
        return store_.render(p, MmdsStore::Format::kImds);
    }
    std::optional<std::string> json(std::string_view p) {
        return store_.render(p, MmdsStore::Format::kJson);
    }
    MmdsStore store_;
};

TEST_F(RenderTest, ObjectsListKeysInImdsAndSerializeInJson) {
    EXPECT_EQ(imds("/name"), "first\nsecond");
    EXPECT_EQ(json("/name"), R"({"first":"John","second":"Doe"})");
    EXPECT_EQ(imds("/nested/"), "obj/\ns");
    EXPECT_EQ(imds(""),
              "a/b/\nage\nbalance\njson_string\nmember\nname/\nnested/\nphones\n"
              "shares_percentage");
}

TEST_F(RenderTest, StringsAreRawInImdsAndQuotedInJson) {
    EXPECT_EQ(imds("/name/first"), "John");
    EXPECT_EQ(json("/name/first"), R"("John")");
    EXPECT_EQ(imds("/json_string"), "{\n  \"hello\": \"world\"\n}");
    EXPECT_EQ(imds("/phones/0/"), "+401234567");
    EXPECT_EQ(json("/phones/0/"), R"("+401234567")");
}

TEST_F(RenderTest, OtherTypesHaveNoImdsFormButRenderAsJson) {
    for (const char* p :
         {"/age", "/phones", "/phones/", "/member", "/shares_percentage", "/balance"}) {
        EXPECT_FALSE(imds(p)) << p;
        EXPECT_TRUE(json(p)) << p;
    }
    EXPECT_EQ(json("/age"), "43");
    EXPECT_EQ(json("/phones/"), R"(["+401234567","+441234567"])");
    EXPECT_EQ(json("/member"), "false");
    EXPECT_EQ(json("/shares_percentage"), "12.12");
    EXPECT_EQ(json("/balance"), "-24");
}

TEST_F(RenderTest, PathsFollowSerdeJsonPointer) {
    EXPECT_FALSE(json("/invalid_path"));
    EXPECT_FALSE(json("name"));  // Not a pointer.
    EXPECT_FALSE(json("/name//"));
    EXPECT_FALSE(json("/phones/01"));
    EXPECT_FALSE(json("/phones/+1"));
    EXPECT_FALSE(json("/phones/2"));
    EXPECT_FALSE(json("/phones/-1"));
    EXPECT_FALSE(json("/age/x"));
    EXPECT_EQ(json("/phones/1"), R"("+441234567")");
    EXPECT_EQ(json("/a~1b/~0c"), R"("escaped")");
    EXPECT_EQ(json("/"), json(""));
}

TEST(MmdsStoreRenderTest, AnEmptyStoreIsNullToTheGuest) {
    MmdsStore store;
    EXPECT_EQ(store.render("/", MmdsStore::Format::kJson), "null");
    EXPECT_FALSE(store.render("/", MmdsStore::Format::kImds));
    EXPECT_FALSE(store.render("/latest", MmdsStore::Format::kJson));
}

TEST(MmdsStoreTest, MovesKeepTheTree) {
    MmdsStore a(100);
    ASSERT_TRUE(a.put(R"({"x":"y"})"));
    MmdsStore b = std::move(a);
    EXPECT_EQ(b.get_json(), R"({"x":"y"})");
    EXPECT_EQ(b.size_limit(), 100u);
}

}  // namespace
}  // namespace ember::mmds
