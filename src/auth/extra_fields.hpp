// ExtraFields: what the last column of a Dovecot passwd-file line asks for
// ("nologin reason=... allow_nets=192.0.2.0/24 userdb_mail=maildir:~/Mail"),
// as far as pop3d can honour it.
//
//   nologin, reason=   refuse the login; reason= is told to the client, and
//                      only after a right password ("-ERR [AUTH] reason")
//   allow_nets=        logins only from these addresses; from elsewhere the
//                      refusal is the one for a wrong password
//   user=              the canonical name: its mail, its name in the logs
//   userdb_home=       the home directory (overrides the home column)
//   userdb_mail=       the user's own mail location; "maildir:" and "~"
//                      are understood, other mailbox formats refuse the user
//   userdb_uid=, userdb_gid=
//                      pop3d reads every virtual user's mail as its service
//                      user; a user whose uid/gid differs from it cannot be
//                      served as Dovecot would, and is refused (SYS/TEMP,
//                      with a log line) rather than served with the wrong
//                      identity
//
// A field that restricts access and that pop3d does not implement (deny,
// fail, allow_real_nets, proxy, host, delay_until, ...) makes the user
// unable to log in, with a log line; any other unknown field is logged.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "security/ip_list.hpp"

namespace pop3d {

// A reason= longer than this is cut: it goes on one -ERR line.
inline constexpr size_t kMaxNologinReasonBytes = 200;

struct ExtraFields {
  bool nologin = false;
  std::string reason;  // printable ASCII only
  std::optional<IpList> allow_nets;
  std::string canonical_name;
  std::string home;
  std::string mail_location;  // an auth.mail_location template
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  // Why the user can never log in (a restricting field pop3d does not
  // implement, or one it cannot parse); "" when nothing stands in the way.
  std::string blocked;

  // True when login() has something to check or change.
  bool any() const {
    return nologin || allow_nets || !canonical_name.empty() || !home.empty() ||
           !mail_location.empty() || uid || gid;
  }
};

// Parses the extra-fields column. `note` receives one message per field it
// does not understand (by name, never by value: values may be secrets),
// and one per field it cannot use.
ExtraFields parse_extra_fields(std::string_view text,
                               const std::function<void(const std::string&)>& note);

}  // namespace pop3d
