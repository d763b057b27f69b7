// A minimal ACPI Machine Language (AML) encoder (ACPI 6.5 chapter 20, "ACPI Machine Language
// Specification", and §6.4 for resource descriptors): just the terms Ember's DSDT uses, as
// Firecracker's acpi-tables aml.rs. Each function returns the encoded bytes of one term; callers
// nest them. Names are Ember's own constants: a name segment is 1..4 characters of [A-Z0-9_]
// (shorter ones are padded with '_'), which the functions assume rather than check at run time.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ember::x86::aml {

using Bytes = std::vector<uint8_t>;

// §20.2.2: `\` for the root, then one, two (DualNamePrefix) or more (MultiNamePrefix) segments
// separated by '.', e.g. "_HID", "_SB_.VGEN", "\\_SB_.VGEN".
Bytes name_string(std::string_view path);
// The shortest integer encoding: ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix.
Bytes integer(uint64_t value);
// DWordPrefix always, as ASL's DWordConst.
Bytes dword(uint32_t value);
// StringPrefix, ASCII bytes, NUL.
Bytes string(std::string_view ascii);
// A compressed EISA id ("PNP0501") as ASL's EISAID(): a DWordConst.
Bytes eisa_id(std::string_view id);

Bytes name(std::string_view path, const Bytes& object);  // Name(path, object)
Bytes package(std::span<const Bytes> elements);          // Package() { elements }
Bytes device(std::string_view path, std::span<const Bytes> terms);
enum class MethodSync : uint8_t { kNotSerialized = 0, kSerialized = 1 };
Bytes method(std::string_view path, uint8_t arg_count, MethodSync sync,
             std::span<const Bytes> terms);
Bytes if_then(const Bytes& predicate, std::span<const Bytes> terms);
Bytes equal(const Bytes& a, const Bytes& b);  // LEqual
Bytes arg(uint8_t index);                     // Arg0..Arg6
Bytes notify(const Bytes& object, const Bytes& value);

// ResourceTemplate() { descriptors }: a buffer ending with the End Tag.
Bytes resource_template(std::span<const Bytes> descriptors);
// IO(Decode16, min, max, alignment, length) (§6.4.2.5).
Bytes io(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length);
// Memory32Fixed(ReadWrite, base, length) (§6.4.3.4).
Bytes memory32_fixed(uint32_t base, uint32_t length);
// Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi } (§6.4.3.6).
Bytes edge_interrupt(uint32_t gsi);

// §20.2.4 PkgLength: the encoded length of `payload_bytes` plus the PkgLength itself.
Bytes pkg_length(size_t payload_bytes);

}  // namespace ember::x86::aml
