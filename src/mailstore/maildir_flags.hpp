// The flags part of a Maildir file name (":2,<flags>"), as readers that
// share the Maildir (Dovecot, Courier, mutt) expect it: one letter each, in
// ASCII order, after the base name, which never changes.
#pragma once

#include <string>
#include <string_view>

namespace pop3d {

// The flag IMAP shows as \Seen.
constexpr char kMaildirSeenFlag = 'S';

// Whether the name's info suffix holds `flag`.
bool maildir_has_flag(std::string_view file_name, char flag);

// The name with `flag` among its flags: inserted where ASCII order puts
// it, the other flags kept as they are; a name without an info suffix gets
// ":2,<flag>". Unchanged when the flag is there already.
std::string maildir_name_with_flag(std::string_view file_name, char flag);

// The name a message gets when it moves from new/ to cur/ unflagged: an
// empty info suffix added when it has none (Dovecot and Courier add it, and
// read a name without one as unflagged all the same).
std::string maildir_cur_name(std::string_view file_name);

}  // namespace pop3d
