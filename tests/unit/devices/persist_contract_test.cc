// The contract every device blob codec keeps, checked over all of them: a blob missing any
// required field, with a field of the wrong size, of another device's type, of an unknown version,
// truncated anywhere or corrupt anywhere is refused, never crashes the decoder. Each device's own
// round trips and limits are tested next to it (legacy/*_persist_test.cc, virtio/*/...).
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "devices/legacy/boot_timer_persist.h"
#include "devices/legacy/cmos_persist.h"
#include "devices/legacy/i8042_persist.h"
#include "devices/legacy/serial_persist.h"
#include "devices/virtio/block/block_persist.h"
#include "devices/virtio/net/net_persist.h"
#include "tests/unit/devices/blob_edit.h"
#include "tests/unit/devices/legacy/legacy_persist_samples.h"
#include "tests/unit/devices/virtio/virtio_persist_samples.h"

namespace ember::snapshot {
namespace {

using namespace ember::snapshot::testing;

// The blob's layout as the test knows it: which fields are nested payloads, which are optional
// and which are strings (any size). Every other field is a required fixed-size leaf.
struct Layout {
    std::set<Path> nested;
    std::set<Path> optional;
    std::set<Path> strings;
};

void collect_leaves(std::span<const uint8_t> bytes, const Layout& layout, const Path& prefix,
                    std::vector<Path>& all) {
    FieldReader fields = fields_of(bytes);
    for (const auto& [tag, data] : fields.fields()) {
        Path p = prefix;
        p.push_back(tag);
        all.push_back(p);
        if (layout.nested.count(p)) collect_leaves(data, layout, p, all);
    }
}

std::set<Path> rate_limiter_paths(const Path& at, std::set<Path>& optional) {
    std::set<Path> nested = {at};
    optional.insert(at);
    for (uint32_t bucket_tag : {1u, 2u}) {
        Path b = at;
        b.push_back(bucket_tag);
        nested.insert(b);
        optional.insert(b);
    }
    return nested;
}

// Slot, transport, virtio device and its queues, under top-level field 2.
void add_slot_layout(Layout& l, uint32_t queues) {
    l.nested.insert({2});
    l.nested.insert({2, 3});
    l.nested.insert({2, 3, 8});
    for (uint32_t i = 0; i < queues; ++i) l.nested.insert({2, 3, 8, 0x100 + i});
}

Layout block_layout(uint32_t queues) {
    Layout l;
    l.nested = rate_limiter_paths({1, 8}, l.optional);
    l.nested.merge(rate_limiter_paths({3, 3}, l.optional));
    l.nested.insert({1});
    l.nested.insert({3});
    l.optional.insert({1, 4});
    l.strings = {{1, 1}, {1, 2}, {1, 4}};
    add_slot_layout(l, queues);
    return l;
}

Layout net_layout(uint32_t queues) {
    Layout l;
    l.nested = rate_limiter_paths({1, 5}, l.optional);
    for (const Path& at : {Path{1, 6}, Path{3, 5}, Path{3, 6}}) {
        l.nested.merge(rate_limiter_paths(at, l.optional));
    }
    l.nested.insert({1});
    l.nested.insert({3});
    l.optional.insert({1, 3});
    l.optional.insert({1, 4});
    l.strings = {{1, 1}, {1, 2}, {1, 3}};
    add_slot_layout(l, queues);
    return l;
}

struct Codec {
    const char* name;
    DeviceState blob;
    std::function<bool(const DeviceState&)> decodes;
    Layout layout;
};

std::vector<Codec> all_codecs() {
    auto succeeds = [](auto decode) {
        return [decode](const DeviceState& d) { return decode(d).has_value(); };
    };
    return {
        {"serial", encode_serial(sample_serial()), succeeds(decode_serial), {}},
        {"i8042", encode_i8042(sample_i8042()), succeeds(decode_i8042), {}},
        {"cmos", encode_cmos(sample_cmos()), succeeds(decode_cmos), {}},
        {"boot-timer", encode_boot_timer(sample_boot_timer()), succeeds(decode_boot_timer), {}},
        {"block", encode_block(sample_block(true)), succeeds(decode_block), block_layout(1)},
        {"net", encode_net(sample_net(true)), succeeds(decode_net), net_layout(2)},
    };
}

// --- Refusals. ---

TEST(DeviceCodec, RefusesABlobMissingAnyRequiredField) {
    for (const Codec& c : all_codecs()) {
        std::vector<Path> paths;
        collect_leaves(c.blob.data, c.layout, {}, paths);
        EXPECT_GE(paths.size(), 3u) << c.name;
        for (const Path& p : paths) {
            bool decodes = c.decodes(without(c.blob, p));
            EXPECT_EQ(decodes, c.layout.optional.count(p) == 1)
                << c.name << " without field " << to_string(p);
        }
    }
    std::string error =
        error_of(decode_block(without(encode_block(sample_block(true)), {2, 3, 8, 0x100, 2})));
    EXPECT_NE(error.find("snapshot device virtio-block"), std::string::npos) << error;
    EXPECT_NE(error.find("slot.transport.device.queue 0"), std::string::npos) << error;
    EXPECT_NE(error.find("next_avail (tag 2) missing"), std::string::npos) << error;
}

TEST(DeviceCodec, RefusesAFieldOfTheWrongSize) {
    auto grow = [](std::span<const uint8_t> data) {
        std::vector<uint8_t> out(data.begin(), data.end());
        out.push_back(0);
        return std::optional<std::vector<uint8_t>>(out);
    };
    auto shrink = [](std::span<const uint8_t> data) {
        return std::optional<std::vector<uint8_t>>(
            std::vector<uint8_t>(data.begin(), data.end() - (data.empty() ? 0 : 1)));
    };
    for (const Codec& c : all_codecs()) {
        std::vector<Path> paths;
        collect_leaves(c.blob.data, c.layout, {}, paths);
        for (const Path& p : paths) {
            if (c.layout.strings.count(p)) continue;  // Any length is a valid string.
            EXPECT_FALSE(c.decodes(edited(c.blob, p, grow))) << c.name << " " << to_string(p);
            EXPECT_FALSE(c.decodes(edited(c.blob, p, shrink))) << c.name << " " << to_string(p);
        }
    }
    // A 63-byte FIFO and a 5-byte MAC in particular.
    EXPECT_FALSE(decode_serial(edited(encode_serial(sample_serial()), {9}, shrink)));
    EXPECT_FALSE(decode_net(edited(encode_net(sample_net(true)), {3, 2}, shrink)));
}

TEST(DeviceCodec, RefusesTheWrongType) {
    std::vector<Codec> codecs = all_codecs();
    for (const Codec& decoder : codecs) {
        for (const Codec& blob : codecs) {
            if (std::string_view(decoder.name) == blob.name) continue;
            EXPECT_FALSE(decoder.decodes(blob.blob)) << decoder.name << " took " << blob.name;
            DeviceState renamed = decoder.blob;
            renamed.type = blob.blob.type;
            EXPECT_FALSE(decoder.decodes(renamed)) << decoder.name << " as " << blob.name;
        }
    }
    Result<BlockSnapshot> b = decode_block(encode_serial(sample_serial()));
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().message(), "snapshot device virtio-block: blob has type \"serial-8250\"");
}

TEST(DeviceCodec, RefusesAVersionItDoesNotKnow) {
    for (const Codec& c : all_codecs()) {
        for (uint32_t version : {0u, 2u, 0xffffffffu}) {
            DeviceState d = c.blob;
            d.version = version;
            EXPECT_FALSE(c.decodes(d)) << c.name << " version " << version;
        }
    }
    DeviceState d = encode_block(sample_block(false));
    d.version = 2;
    EXPECT_NE(error_of(decode_block(d)).find("version 2 is unknown"), std::string::npos);
}

TEST(DeviceCodec, RefusesEveryTruncationWithoutCrashing) {
    // Every blob ends with a required field, so no truncation can decode.
    for (const Codec& c : all_codecs()) {
        for (size_t len = 0; len < c.blob.data.size(); ++len) {
            DeviceState d = c.blob;
            d.data.resize(len);
            EXPECT_FALSE(c.decodes(d)) << c.name << " truncated to " << len;
        }
        EXPECT_TRUE(c.decodes(c.blob)) << c.name;
    }
}

TEST(DeviceCodec, SurvivesCorruptBytesAnywhere) {
    // Every byte of every blob set to a few values: decoding may succeed or fail, never crash.
    for (const Codec& c : all_codecs()) {
        for (size_t i = 0; i < c.blob.data.size(); ++i) {
            for (uint8_t v : {uint8_t{0}, uint8_t{0x7f}, uint8_t{0xff}}) {
                DeviceState d = c.blob;
                d.data[i] = v;
                (void)c.decodes(d);
            }
        }
    }
}

}  // namespace
}  // namespace ember::snapshot
