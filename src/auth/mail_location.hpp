// Where a user's Maildir is: auth.mail_location with the user's name and
// home filled in.
#pragma once

#include <string>
#include <string_view>

#include "util/result.hpp"

namespace pop3d {

// Expands %u (the full login name), %n (the part before '@', or all of it),
// %d (the part after '@', or ""), %h (the home directory) and %% ('%').
//
// Errors (the user then gets "-ERR [SYS/TEMP]", because it is the
// administrator's mistake, not the user's):
//   - an unknown escape such as %x, or a '%' at the end;
//   - %h when the user has no home directory;
//   - %u, %n or %d expanding to something with '/' or NUL, or to "." or
//     "..", which could steer the path out of the mail tree.
// A relative result is taken relative to the home directory (so
// "Maildir" means "%h/Maildir", as mail programs read it); with no home
// that is an error too.
Result<std::string> expand_mail_location(std::string_view location_template, std::string_view user,
                                         std::string_view home);

// A Maildir location may carry Dovecot's options after the path, as
// Dovecot's mail_location does ("~/Maildir:CONTROL=~/.control:INDEX=...").
// Where Dovecot keeps its control files (dovecot-uidlist) matters to
// pop3d; the other options (INDEX, LAYOUT, ...) do not change the INBOX
// POP3 serves, so they are dropped.
struct MaildirPaths {
  std::string maildir;
  std::string control_dir;  // CONTROL=, else the Maildir itself
};

// Splits an expanded location at the first ":KEY=" (KEY in A-Z and '_'),
// so a ':' elsewhere in a path stays part of it. A "~" or "~/" at the start
// of CONTROL's value is `home`; a relative value is relative to `home` like
// the location itself. An empty or unusable CONTROL= is an error.
Result<MaildirPaths> split_maildir_options(std::string_view location, std::string_view home);

}  // namespace pop3d
