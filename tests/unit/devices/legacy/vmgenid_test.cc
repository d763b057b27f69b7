// The VM generation ID device (vmgenid.cc) on fake guest memory: a random ID at its address at
// boot, a new one and one interrupt at each load, refused addresses; and its snapshot blob.
#include "devices/legacy/vmgenid.h"

#include <gtest/gtest.h>

#include "devices/legacy/vmgenid_persist.h"
#include "tests/fakes/fake_irq_line.h"

namespace ember {
namespace {

constexpr uint64_t kIdGpa = 0xa2000;

GuestMemory small_memory() {
    const GuestRange ranges[] = {{GuestAddress(0), 1 << 20}};
    return GuestMemory::anonymous(ranges).value();
}

VmGenId::Id in_memory(const GuestMemory& mem) {
    VmGenId::Id id{};
    EXPECT_TRUE(mem.read(GuestAddress(kIdGpa), id));
    return id;
}

TEST(VmGenId, WritesARandomIdAtItsAddressWithoutNotifying) {
    GuestMemory mem = small_memory();
    testing::FakeIrqLine irq;
    auto a = VmGenId::create(mem, GuestAddress(kIdGpa), 7, irq);
    ASSERT_TRUE(a) << a.error().message();
    EXPECT_EQ(in_memory(mem), (*a)->id());
    EXPECT_NE((*a)->id(), VmGenId::Id{});
    EXPECT_EQ(irq.count(), 0u);
    EXPECT_EQ((*a)->save_state(), (VmGenId::State{kIdGpa, 7}));

    // Another VM (or another boot) gets another ID.
    GuestMemory other = small_memory();
    auto b = VmGenId::create(other, GuestAddress(kIdGpa), 7, irq);
    ASSERT_TRUE(b);
    EXPECT_NE((*a)->id(), (*b)->id());
}

TEST(VmGenId, EachLoadWritesANewIdThenRaisesTheInterruptOnce) {
    GuestMemory mem = small_memory();
    testing::FakeIrqLine irq;
    auto device = VmGenId::create(mem, GuestAddress(kIdGpa), 7, irq).value();
    const VmGenId::Id snapshot_id = device->id();
    (void)mem.take_dirty(0);

    ASSERT_TRUE(device->regenerate_and_notify(mem));
    EXPECT_NE(device->id(), snapshot_id);
    EXPECT_EQ(in_memory(mem), device->id());
    EXPECT_EQ(irq.count(), 1u);
    EXPECT_EQ(device->notifications(), 1u);
    // The page holding the ID goes into the next diff snapshot.
    const std::vector<uint64_t> dirty = mem.take_dirty(0);
    const uint64_t page = kIdGpa / 4096;
    EXPECT_NE(dirty[page / 64] & (1ULL << (page % 64)), 0u);

    const VmGenId::Id second = device->id();
    ASSERT_TRUE(device->regenerate_and_notify(mem));
    EXPECT_NE(device->id(), second);
    EXPECT_EQ(irq.count(), 2u);
}

TEST(VmGenId, RefusesAnUnalignedOrOutOfMemoryAddress) {
    GuestMemory mem = small_memory();
    testing::FakeIrqLine irq;
    EXPECT_FALSE(VmGenId::create(mem, GuestAddress(kIdGpa + 4), 7, irq));
    EXPECT_FALSE(VmGenId::create(mem, GuestAddress((1 << 20) - 8), 7, irq));
    EXPECT_FALSE(VmGenId::create(mem, GuestAddress(1ULL << 40), 7, irq));
    EXPECT_EQ(in_memory(mem), VmGenId::Id{});
}

TEST(VmGenIdPersist, RoundTrips) {
    const VmGenId::State s{.id_gpa = 0x1234a2000ULL, .gsi = 23};
    snapshot::DeviceState blob = snapshot::encode_vmgenid(s);
    EXPECT_EQ(blob.id, "vmgenid");
    EXPECT_EQ(blob.type, snapshot::kVmGenIdType);
    auto decoded = snapshot::decode_vmgenid(blob);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(*decoded, s);
    EXPECT_EQ(snapshot::summarize_vmgenid(s), "generation ID at 0x1234a2000, notified on GSI 23");
}

TEST(VmGenIdPersist, RefusesAnotherDevicesBlobAndATruncatedOne) {
    snapshot::DeviceState blob = snapshot::encode_vmgenid({kIdGpa, 6});
    snapshot::DeviceState other = blob;
    other.type = "cmos";
    EXPECT_FALSE(snapshot::decode_vmgenid(other));
    for (size_t keep = 0; keep < blob.data.size(); ++keep) {
        snapshot::DeviceState cut = blob;
        cut.data.resize(keep);
        EXPECT_FALSE(snapshot::decode_vmgenid(cut)) << "kept " << keep << " bytes";
    }
}

}  // namespace
}  // namespace ember
