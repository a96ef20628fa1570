// Lower-case hex of bytes: for digests, random tokens and keys that must be
// plain text (a Redis key, a uidlist GUID).
#pragma once

#include <string>
#include <string_view>

namespace pop3d {

std::string hex_lower(std::string_view bytes);

}  // namespace pop3d
