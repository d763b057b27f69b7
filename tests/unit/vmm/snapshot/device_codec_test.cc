#include "vmm/snapshot/device_codec.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/vmm/snapshot/test_state.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/snapshot/state_fields.h"

namespace ember::snapshot {
namespace {

// --- Sample states with a non-default value in every field. ---

Serial8250::State sample_serial() {
    Serial8250::State s;
    s.ier = 0x0f;
    s.lcr = 0x83;
    s.mcr = 0x1b;
    s.scr = 0x5a;
    s.dll = 0x0c;
    s.dlm = 0x01;
    s.thr_empty_pending = 1;
    s.rx_len = 3;
    for (size_t i = 0; i < Serial8250::kFifoSize; ++i) s.rx[i] = static_cast<uint8_t>(0x40 + i);
    return s;
}

I8042::State sample_i8042() {
    I8042::State s;
    s.status = 0x15;
    s.control = 0x47;
    s.output_port = 0x03;
    s.pending_command = 0x60;
    s.buffer_len = 4;
    for (size_t i = 0; i < I8042::kBufferSize; ++i) s.buffer[i] = static_cast<uint8_t>(0xe0 + i);
    return s;
}

Cmos::State sample_cmos() {
    Cmos::State s;
    s.clock_offset_s = -123456789;
    s.set_sec = 59;
    s.set_min = -1;  // Signed values must survive the u32 encoding.
    s.set_hour = 23;
    s.set_mday = 31;
    s.set_mon = 11;
    s.set_year = 126;
    s.set_wday = 6;
    s.index = 0x7f;
    s.nmi_disabled = 1;
    s.setting = 1;
    for (size_t i = 0; i < Cmos::kRamSize; ++i) s.ram[i] = static_cast<uint8_t>(i * 3 + 1);
    return s;
}

BootTimer::State sample_boot_timer() {
    return {.wall_us = 123'456, .cpu_us = 78'901, .reported = 1};
}

TokenBucketConfig bucket(uint64_t seed) {
    return {.size = seed, .one_time_burst = seed * 2, .refill_time_ms = seed + 7};
}

TokenBucketState bucket_state(uint64_t seed) {
    return {.budget = seed, .one_time_burst = seed / 2, .elapsed_ns = seed * 1000 + 1};
}

VirtioSlotState sample_slot(uint32_t queues) {
    VirtioSlotState s;
    s.mmio_base = 0xd000'0000 + 0x1000 * queues;
    s.gsi = 5 + queues;
    s.transport = {.status = 0x0f,
                   .device_features_sel = 1,
                   .driver_features_sel = 1,
                   .queue_sel = queues - 1,
                   .driver_features = 0x1'3000'0046,
                   .interrupt_status = 1,
                   .activate_failed = 1};
    s.transport.device.acked_features = 0x1'3000'0044;
    s.transport.device.config_generation = 9;
    s.transport.device.activated = 1;
    s.transport.device.needs_reset = 1;
    for (uint32_t i = 0; i < queues; ++i) {
        uint64_t base = 0x10'0000 + 0x1'0000 * i;
        // `reserved` is padding the codec does not store: it stays 0.
        s.transport.device.queues.push_back({.size = static_cast<uint16_t>(128 << i),
                                             .next_avail = static_cast<uint16_t>(65000 + i),
                                             .next_used = static_cast<uint16_t>(64990 + i),
                                             .num_added = static_cast<uint16_t>(3 + i),
                                             .ready = 1,
                                             .event_idx = 1,
                                             .indirect = 1,
                                             .desc_table = base,
                                             .avail_ring = base + 0x1000,
                                             .used_ring = base + 0x2000});
    }
    return s;
}

BlockSnapshot sample_block(bool with_optionals) {
    BlockSnapshot s;
    s.drive = {.drive_id = "rootfs",
               .path_on_host = "/srv/vm/rootfs.ext4",
               .is_root_device = true,
               .is_read_only = true,
               .cache_type = CacheType::kWriteback,
               .io_engine = IoEngine::kAsync};
    if (with_optionals) {
        s.drive.partuuid = "0eaa91a0-01";
        s.drive.rate_limiter = RateLimiterConfig{.bandwidth = bucket(1000), .ops = bucket(50)};
    }
    s.slot = sample_slot(1);
    s.device = {.device_features = 0x1'3000'0064, .disk_size_bytes = 1ull << 30};
    if (with_optionals) {
        s.device.rate_limiter = {.bandwidth = bucket_state(400), .ops = bucket_state(30)};
    }
    return s;
}

NetSnapshot sample_net(bool with_optionals) {
    NetSnapshot s;
    s.net = {.iface_id = "eth0", .host_dev_name = "tap0"};
    if (with_optionals) {
        s.net.guest_mac = "06:00:ac:10:00:02";
        s.net.mtu = 9000;
        s.net.rx_rate_limiter = RateLimiterConfig{.bandwidth = bucket(300)};
        s.net.tx_rate_limiter = RateLimiterConfig{.ops = bucket(40)};
    }
    s.slot = sample_slot(2);
    s.device = {.device_features = 0x1'0000'4c83,
                .mac = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02},
                .mtu = 1500,
                .tap_offload = 0x1f};
    if (with_optionals) {
        s.device.rx_rate_limiter = {.bandwidth = bucket_state(100)};
        s.device.tx_rate_limiter = {.ops = bucket_state(8)};
    }
    return s;
}

// --- Editing blobs field by field. A path names a field by its tags, outermost first. ---

using Path = std::vector<uint32_t>;

FieldReader fields_of(std::span<const uint8_t> bytes) {
    Result<FieldReader> r = FieldReader::parse(bytes, "test");
    EXPECT_TRUE(r) << r.error().message();
    return std::move(*r);
}

// Rewrites `bytes` with `edit` applied to the field at `path` (which must exist): edit returns
// the new bytes, or std::nullopt to drop the field.
using Edit = std::function<std::optional<std::vector<uint8_t>>(std::span<const uint8_t>)>;
std::vector<uint8_t> edit_field(std::span<const uint8_t> bytes, const Path& path, size_t depth,
                                const Edit& edit) {
    FieldWriter w;
    bool found = false;
    FieldReader fields = fields_of(bytes);
    for (const auto& [tag, data] : fields.fields()) {
        if (tag != path[depth]) {
            w.bytes(tag, data);
            continue;
        }
        found = true;
        if (depth + 1 < path.size()) {
            w.bytes(tag, edit_field(data, path, depth + 1, edit));
        } else if (auto replaced = edit(data)) {
            w.bytes(tag, *replaced);
        }
    }
    EXPECT_TRUE(found) << "no field " << path[depth] << " at depth " << depth;
    return w.take();
}

DeviceState edited(DeviceState d, const Path& path, const Edit& edit) {
    d.data = edit_field(d.data, path, 0, edit);
    return d;
}
DeviceState without(const DeviceState& d, const Path& path) {
    return edited(d, path, [](auto) { return std::nullopt; });
}
DeviceState with_u32(const DeviceState& d, const Path& path, uint32_t v) {
    return edited(d, path, [v](auto) {
        FieldWriter w;
        w.u32(0, v);
        std::vector<uint8_t> f = w.take();
        return std::vector<uint8_t>(f.begin() + 8, f.end());  // The value without its header.
    });
}

std::string to_string(const Path& p) {
    std::string s;
    for (uint32_t t : p) s += (s.empty() ? "" : ".") + std::to_string(t);
    return s;
}

// The blob's layout as the test knows it: which fields are nested payloads, which are optional
// and which are strings (any size). Every other field is a required fixed-size leaf.
struct Layout {
    std::set<Path> nested;
    std::set<Path> optional;
    std::set<Path> strings;
};

void collect_leaves(std::span<const uint8_t> bytes, const Layout& layout, Path prefix,
                    std::vector<Path>& all) {
    FieldReader fields = fields_of(bytes);
    for (const auto& [tag, data] : fields.fields()) {
        Path p = prefix;
        p.push_back(tag);
        all.push_back(p);
        if (layout.nested.count(p)) collect_leaves(data, layout, p, all);
    }
}

std::set<Path> rate_limiter_paths(Path at, std::set<Path>& optional) {
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
    for (Path at : {Path{1, 6}, Path{3, 5}, Path{3, 6}}) {
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

std::string error_of(const Result<BlockSnapshot>& r) {
    return r ? std::string("decoded") : r.error().message();
}

// --- Round trips. ---

TEST(DeviceCodec, RoundTripsTheLegacyDevices) {
    DeviceState serial = encode_serial(sample_serial());
    EXPECT_EQ(serial.id, "serial");
    EXPECT_EQ(serial.type, kSerialType);
    EXPECT_EQ(serial.version, 1u);
    Result<Serial8250::State> s = decode_serial(serial);
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(*s, sample_serial());

    DeviceState i8042 = encode_i8042(sample_i8042());
    EXPECT_EQ(i8042.id, "i8042");
    Result<I8042::State> k = decode_i8042(i8042);
    ASSERT_TRUE(k) << k.error().message();
    EXPECT_EQ(*k, sample_i8042());

    DeviceState cmos = encode_cmos(sample_cmos());
    EXPECT_EQ(cmos.id, "cmos");
    Result<Cmos::State> c = decode_cmos(cmos);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(*c, sample_cmos());

    DeviceState timer = encode_boot_timer(sample_boot_timer());
    EXPECT_EQ(timer.id, "boot-timer");
    Result<BootTimer::State> t = decode_boot_timer(timer);
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(*t, sample_boot_timer());
}

TEST(DeviceCodec, RoundTripsBlockWithAndWithoutOptionalMembers) {
    for (bool optionals : {true, false}) {
        DeviceState d = encode_block(sample_block(optionals));
        EXPECT_EQ(d.id, "rootfs");
        EXPECT_EQ(d.type, kBlockType);
        Result<BlockSnapshot> s = decode_block(d);
        ASSERT_TRUE(s) << s.error().message();
        EXPECT_EQ(*s, sample_block(optionals));
        EXPECT_EQ(s->drive.partuuid.has_value(), optionals);
        EXPECT_EQ(s->drive.rate_limiter.has_value(), optionals);
        EXPECT_EQ(s->device.rate_limiter.bandwidth.has_value(), optionals);
    }
    // A rate limiter with only one bucket keeps the other absent.
    BlockSnapshot one = sample_block(true);
    one.drive.rate_limiter->bandwidth.reset();
    Result<BlockSnapshot> s = decode_block(encode_block(one));
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(*s, one);
}

TEST(DeviceCodec, RoundTripsNetWithAndWithoutOptionalMembers) {
    for (bool optionals : {true, false}) {
        DeviceState d = encode_net(sample_net(optionals));
        EXPECT_EQ(d.id, "eth0");
        EXPECT_EQ(d.type, kNetType);
        Result<NetSnapshot> s = decode_net(d);
        ASSERT_TRUE(s) << s.error().message();
        EXPECT_EQ(*s, sample_net(optionals));
        EXPECT_EQ(s->net.guest_mac.has_value(), optionals);
        EXPECT_EQ(s->net.mtu.has_value(), optionals);
        EXPECT_EQ(s->net.rx_rate_limiter.has_value(), optionals);
        EXPECT_EQ(s->net.tx_rate_limiter.has_value(), optionals);
        EXPECT_EQ(s->device.rx_rate_limiter.bandwidth.has_value(), optionals);
        EXPECT_EQ(s->device.tx_rate_limiter.ops.has_value(), optionals);
    }
}

TEST(DeviceCodec, KeepsAnyLimiterStateValuesForRestoreToClamp) {
    BlockSnapshot b = sample_block(true);
    b.device.rate_limiter.ops = {
        .budget = UINT64_MAX, .one_time_burst = UINT64_MAX, .elapsed_ns = UINT64_MAX};
    b.device.rate_limiter.bandwidth.reset();
    Result<BlockSnapshot> s = decode_block(encode_block(b));
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(*s, b);
}

// A blob's data from testdata/, under the id its config holds.
DeviceState testdata_blob(std::string_view type, const char* id, const char* file) {
    std::ifstream in(std::string(EMBER_SNAPSHOT_TESTDATA) + "/" + file, std::ios::binary);
    EXPECT_TRUE(in) << file;
    return {.id = id,
            .type = std::string(type),
            .version = 1,
            .data = {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}};
}

TEST(DeviceCodec, DecodesBlobsFromBeforeTheLimiterStateWithNoState) {
    // Written by the encoder before the limiter state existed (the fuzz seeds device_block and
    // device_net as of commit 30f7064); their configs have rate limiters.
    Result<BlockSnapshot> b =
        decode_block(testdata_blob(kBlockType, "rootfs", "block_without_limiter_state.blob"));
    ASSERT_TRUE(b) << b.error().message();
    ASSERT_TRUE(b->drive.rate_limiter.has_value());
    EXPECT_TRUE(b->drive.rate_limiter->bandwidth.has_value());
    EXPECT_EQ(b->device.rate_limiter, RateLimiterState{});

    Result<NetSnapshot> n =
        decode_net(testdata_blob(kNetType, "eth0", "net_without_limiter_state.blob"));
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_TRUE(n->net.tx_rate_limiter.has_value());
    EXPECT_EQ(n->device.rx_rate_limiter, RateLimiterState{});
    EXPECT_EQ(n->device.tx_rate_limiter, RateLimiterState{});

    // The same from today's encoder with the fields dropped.
    DeviceState block = without(encode_block(sample_block(true)), {3, 3});
    b = decode_block(block);
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(b->device.rate_limiter, RateLimiterState{});
    EXPECT_EQ(b->drive, sample_block(true).drive);
}

TEST(DeviceCodec, RoundTripsAVirtioDeviceWithNoQueuesAndWithSixteen) {
    for (uint32_t queues : {0u, 16u}) {
        NetSnapshot n = sample_net(false);
        n.slot.transport.device.queues.clear();
        for (uint32_t i = 0; i < queues; ++i) {
            n.slot.transport.device.queues.push_back(
                {.size = 256, .next_avail = static_cast<uint16_t>(i), .desc_table = i * 4096ull});
        }
        Result<NetSnapshot> s = decode_net(encode_net(n));
        ASSERT_TRUE(s) << s.error().message();
        EXPECT_EQ(*s, n);
    }
}

TEST(DeviceCodec, SkipsFieldsFromALaterEmber) {
    // A later Ember adds fields at the top level and inside nested structs.
    auto add_field = [](std::span<const uint8_t> data) {
        FieldWriter w;
        w.u32(77, 1);
        std::vector<uint8_t> extra = w.take();
        std::vector<uint8_t> out(data.begin(), data.end());
        out.insert(out.end(), extra.begin(), extra.end());
        return std::optional<std::vector<uint8_t>>(out);
    };
    DeviceState block = edited(encode_block(sample_block(true)), {2, 3, 8, 0x100}, add_field);
    block = edited(block, {1}, add_field);
    Result<BlockSnapshot> b = decode_block(block);
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_EQ(*b, sample_block(true));

    DeviceState serial = encode_serial(sample_serial());
    FieldWriter w;
    w.u64(1000, 5);
    std::vector<uint8_t> extra = w.take();
    serial.data.insert(serial.data.end(), extra.begin(), extra.end());
    Result<Serial8250::State> s = decode_serial(serial);
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(*s, sample_serial());
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

TEST(DeviceCodec, RefusesValuesOutOfRange) {
    DeviceState serial = encode_serial(sample_serial());
    EXPECT_FALSE(decode_serial(with_u32(serial, {1}, 0x100)));
    EXPECT_TRUE(decode_serial(with_u32(serial, {1}, 0xff)));

    DeviceState block = encode_block(sample_block(true));
    EXPECT_TRUE(decode_block(with_u32(block, {1, 6}, 1)));
    std::string error = error_of(decode_block(with_u32(block, {1, 6}, 2)));
    EXPECT_NE(error.find("drive: field cache_type (tag 6) is 2, out of range 0..1"),
              std::string::npos)
        << error;
    EXPECT_FALSE(decode_block(with_u32(block, {1, 7}, 2)));                     // io_engine
    EXPECT_FALSE(decode_block(with_u32(block, {1, 3}, 2)));                     // is_root_device
    EXPECT_FALSE(decode_block(with_u32(block, {1, 5}, 0xffffffff)));            // is_read_only
    EXPECT_FALSE(decode_block(with_u32(block, {2, 3, 7}, 0x100)));              // activate_failed
    EXPECT_FALSE(decode_block(with_u32(block, {2, 3, 8, 0x100, 1}, 0x10000)));  // queue size

    DeviceState net = encode_net(sample_net(true));
    EXPECT_FALSE(decode_net(with_u32(net, {1, 4}, 0x10000)));  // NetConfig::mtu
    EXPECT_FALSE(decode_net(with_u32(net, {3, 3}, 0x10000)));  // NetDeviceState::mtu
    Result<NetSnapshot> n = decode_net(with_u32(net, {1, 4}, 0xffff));
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_TRUE(n->net.mtu == 0xffff);
}

TEST(DeviceCodec, RefusesMoreThanSixteenQueues) {
    NetSnapshot n = sample_net(false);
    n.slot.transport.device.queues.resize(17);
    std::string error = decode_net(encode_net(n)) ? "decoded" : "refused";
    EXPECT_EQ(error, "refused");
    // A count the queues do not back: refused as too many before anything is read.
    DeviceState d = with_u32(encode_net(sample_net(false)), {2, 3, 8, 5}, 0xffffffff);
    Result<NetSnapshot> r = decode_net(d);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("4294967295 queues, at most 16"), std::string::npos)
        << r.error().message();
    // A count above the queues present: the missing one is refused.
    EXPECT_FALSE(decode_net(with_u32(encode_net(sample_net(false)), {2, 3, 8, 5}, 3)));
}

TEST(DeviceCodec, RefusesAnIdThatDisagreesWithTheConfig) {
    DeviceState block = encode_block(sample_block(false));
    block.id = "other";
    EXPECT_NE(error_of(decode_block(block)).find("drive_id \"rootfs\" but the blob's id"),
              std::string::npos);
    DeviceState net = encode_net(sample_net(false));
    net.id = "eth1";
    EXPECT_FALSE(decode_net(net));
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

// --- describe() and the machine state's device list. ---

TEST(DeviceCodec, SummarizesKnownDevices) {
    std::string block = summarize_device(encode_block(sample_block(true)));
    EXPECT_NE(block.find("drive \"rootfs\" /srv/vm/rootfs.ext4 read-only root, async engine"),
              std::string::npos)
        << block;
    EXPECT_NE(block.find("mmio 0xd0001000 gsi 6, status 0xf active"), std::string::npos) << block;
    EXPECT_NE(block.find("q0 size 128 avail 65000 used 64990"), std::string::npos) << block;
    EXPECT_NE(
        block.find("1024 MiB, limiter tokens left: bytes 400 (+200 burst), ops 30 (+15 burst), "
                   "mmio"),
        std::string::npos)
        << block;
    std::string net = summarize_device(encode_net(sample_net(true)));
    EXPECT_NE(net.find("iface \"eth0\" tap tap0 MAC 06:00:ac:10:00:02, rx limiter tokens left: "
                       "bytes 100 (+50 burst), tx limiter tokens left: ops 8 (+4 burst), mmio"),
              std::string::npos)
        << net;
    std::string plain = summarize_device(encode_block(sample_block(false)));
    EXPECT_EQ(plain.find("tokens left"), std::string::npos) << plain;
    EXPECT_NE(summarize_device(encode_serial(sample_serial())).find("3 input bytes"),
              std::string::npos);
    EXPECT_NE(summarize_device(encode_cmos(sample_cmos())).find("clock offset -123456789 s"),
              std::string::npos);
    EXPECT_NE(summarize_device(encode_i8042(sample_i8042())).find("4 output bytes"),
              std::string::npos);
    EXPECT_NE(summarize_device(encode_boot_timer(sample_boot_timer())).find("123456 us wall"),
              std::string::npos);

    DeviceState broken = encode_block(sample_block(true));
    broken.data.resize(5);
    EXPECT_EQ(summarize_device(broken).rfind("UNREADABLE: snapshot device virtio-block", 0), 0u);
    EXPECT_EQ(summarize_device({.id = "x", .type = "virtio-vsock", .version = 1}), "");
}

TEST(DeviceCodec, MachineStateAllowsOneIdForDevicesOfDifferentTypes) {
    MachineState s = testing::sample_state();
    s.devices = {encode_serial(sample_serial()), encode_i8042(sample_i8042())};
    BlockSnapshot drive = sample_block(false);
    drive.drive.drive_id = "serial";  // The same id as the serial port: allowed.
    s.devices.push_back(encode_block(drive));
    Result<MachineState> loaded = decode_machine_state(encode_machine_state(s));
    ASSERT_TRUE(loaded) << loaded.error().message();
    EXPECT_EQ(loaded->devices, s.devices);
    Result<BlockSnapshot> block = decode_block(loaded->devices[2]);
    ASSERT_TRUE(block) << block.error().message();
    EXPECT_EQ(*block, drive);

    s.devices.push_back(encode_block(drive));  // The same type and id twice: refused.
    loaded = decode_machine_state(encode_machine_state(s));
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().message(), "duplicate snapshot device: virtio-block \"serial\"");
}

}  // namespace
}  // namespace ember::snapshot
