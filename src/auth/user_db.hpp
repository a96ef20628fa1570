// UserDb: who may log in and where their mail is. The passwd-file backend
// (virtual users) is one implementation; system accounts come later.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

namespace pop3d {

struct ExtraFields;

struct UserRecord {
  std::string name;  // the login name as stored (may be user@domain)
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string maildir;  // auth.mail_location with %u %n %d %h expanded
  // Per-user restrictions and overrides (Dovecot passwd-file extra fields),
  // applied by UserDb::login() once the password is right; null for none.
  std::shared_ptr<const ExtraFields> extra;
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
  // For a refusal after a right password that the client may be told
  // about (nologin with reason=): the -ERR text. Empty: the usual one.
  std::string client_message;
};

// What login() adds to authenticate(): the user's extra fields for a
// client at `client_address` (allow_nets, nologin, userdb_uid, ...). An
// outcome that is not kOk, or has no extra fields, is returned as it is.
AuthOutcome apply_extra_fields(AuthOutcome outcome, std::string_view client_address);
// Only the fields that say who the user is and where the mail is
// (userdb_uid, userdb_gid, userdb_mail), for tools that look at a user's
// mail without a login (--print-uidls); apply_extra_fields ends with it.
AuthOutcome apply_userdb_fields(AuthOutcome outcome);

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

  // What a session calls: the check above, then the user's own rules for
  // this client. Not virtual, so that no backend can leave the rules out.
  AuthOutcome login(std::string_view user, std::string_view password,
                    std::string_view client_address) {
    return apply_extra_fields(authenticate(user, password), client_address);
  }
  AuthOutcome login_apop(std::string_view user, std::string_view timestamp, std::string_view digest,
                         std::string_view client_address) {
    return apply_extra_fields(authenticate_apop(user, timestamp, digest), client_address);
  }
};

}  // namespace pop3d
