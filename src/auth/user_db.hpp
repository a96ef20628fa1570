// UserDb: who may log in and where their mail is. The passwd-file backend
// (virtual users) is one implementation; system accounts come later.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace pop3d {

struct UserRecord {
  std::string name;     // the login name as stored (may be user@domain)
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string maildir;  // auth.mail_location with %u %n %d %h expanded
};

enum class AuthStatus {
  kOk,
  kUnknownUser,
  kBadPassword,
  kTempFail,  // the database could not be read: "-ERR [SYS/TEMP]"
};

struct AuthOutcome {
  AuthStatus status = AuthStatus::kTempFail;
  UserRecord user;     // filled in when status == kOk
  std::string reason;  // for the log only; never contains the password
};

class UserDb {
 public:
  virtual ~UserDb() = default;

  // Checks a plaintext password. Unknown users cost the same time as known
  // ones (a dummy hash), and comparisons are constant-time.
  virtual AuthOutcome authenticate(std::string_view user, std::string_view password) = 0;

  // APOP (RFC 1939 7): `digest` is the lower-case hex MD5 of
  // timestamp + secret. Only users whose secret is stored in plaintext
  // ({PLAIN}) can use it; others get kBadPassword.
  virtual AuthOutcome authenticate_apop(std::string_view user, std::string_view timestamp,
                                        std::string_view digest) = 0;

  // True when at least one user could log in with APOP, so the greeting
  // should carry a timestamp.
  virtual bool apop_available() = 0;
};

}  // namespace pop3d
