// What a Maildir file name tells us without opening the file: its base name
// (stable identity across flag changes), its delivery order, Dovecot's wire
// size, and the POP3 UIDL derived from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pop3/limits.hpp"

namespace pop3d {

using pop3_limits::kMaxUidlLength;

// The name without its info suffix (":2,<flags>"). Another client setting a
// flag renames the file but keeps this part, so it is the message's identity.
std::string_view maildir_base_name(std::string_view file_name);

// Sort key for delivery order: the seconds timestamp every Maildir name
// starts with. Names without one sort last (UINT64_MAX).
uint64_t maildir_delivery_time(std::string_view base_name);

// Dovecot's ",W=<n>" field: the size with CRLF line ends, exactly what LIST
// reports. Empty when absent or malformed (then the size is computed).
std::optional<uint64_t> maildir_wire_size_field(std::string_view base_name);

// The Maildir++ ",S=<n>" field: the file's size in octets as stored (LF
// line ends, as delivered), which Maildir++ quota counts. Empty when absent
// or malformed (then the file's st_size stands for it).
std::optional<uint64_t> maildir_file_size_field(std::string_view base_name);

// The UIDL for a base name: bytes outside 0x21-0x7E and '%' itself become
// %XX (uppercase hex), so distinct names stay distinct. A result longer than
// 70 becomes "%H" + hex SHA-1 of the name; "%H" never comes out of escaping
// (H is not a hex digit), so hashed UIDLs cannot collide with escaped ones.
std::string maildir_uidl(std::string_view base_name);

}  // namespace pop3d
