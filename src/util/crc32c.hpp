// CRC32C (Castagnoli; RFC 4960 appendix B): the checksum that the PROXY
// protocol v2 header may carry in its PP2_TYPE_CRC32C TLV.
#pragma once

#include <cstdint>
#include <string_view>

namespace pop3d {

// The CRC32C of `bytes` (reflected polynomial 0x82F63B78, initial value and
// final xor ~0). `previous` continues a checksum over data that came
// before: crc32c(b, crc32c(a)) == crc32c(a + b), so a message can be summed
// piece by piece without being copied.
uint32_t crc32c(std::string_view bytes, uint32_t previous = 0);

}  // namespace pop3d
