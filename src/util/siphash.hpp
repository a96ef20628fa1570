// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
// 2012): a keyed hash for tables whose keys an attacker chooses. With a
// key drawn at start and never shown to clients, nobody can pick addresses
// that crowd into one run of slots, as they could with std::hash.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace pop3d {

using SipHashKey = std::array<uint8_t, 16>;

uint64_t siphash24(const SipHashKey& key, const void* data, size_t size);

// A key from getrandom(); false when the kernel gave no randomness (the
// caller must not go on with a guessable key).
bool random_siphash_key(SipHashKey* key);

}  // namespace pop3d
