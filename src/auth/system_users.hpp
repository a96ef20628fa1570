// SystemUsers: the accounts of the host (auth.backend = "system"): names and
// homes from the system's user database (getpwnam_r, so NSS sources such as
// LDAP work), passwords from shadow (getspnam_r), checked with crypt(3).
//
// Only the privileged helper (src/privsep) uses this: reading shadow needs
// root. Where the accounts come from is an interface, so the policy (locked,
// expired, uid too low, root) can be tested with made-up records.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/secret_string.hpp"
#include "auth/user_db.hpp"
#include "util/result.hpp"

namespace pop3d {

// Why a check of system credentials ended as it did. The privsep protocol
// carries these codes, so their numbers are part of the wire format.
enum class AccountCheck : uint8_t {
  kOk = 0,
  kUnknownUser = 1,
  kBadPassword = 2,
  kLocked = 3,           // '!' or '*' password, or none at all
  kAccountExpired = 4,   // shadow sp_expire has passed
  kPasswordExpired = 5,  // sp_lstchg + sp_max has passed, or a change is forced
  kUidTooLow = 6,        // below auth.first_valid_uid (system accounts)
  kRoot = 7,             // uid 0 never reads mail through pop3d
  kNoMailLocation = 8,   // auth.mail_location cannot be expanded for this user
  kTempFail = 9,         // the user database could not be read
  kTryLater = 10,        // the helper's rate limit for this worker
};
constexpr uint8_t kLastAccountCheck = static_cast<uint8_t>(AccountCheck::kTryLater);

// For log lines: "locked account", "password expired", ...
const char* account_check_name(AccountCheck check);
// What the POP3 session makes of a code: anything that is the account's
// fault is a failed login (the client must not learn which names exist or
// which accounts are locked); database trouble is a temporary failure.
AuthStatus auth_status_for(AccountCheck check);

// One passwd entry (getpwnam).
struct SystemAccount {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  SecretString passwd_field;  // "x" when the hash is in shadow
};

// One shadow entry (getspnam). Day numbers count from 1970-01-01; -1 means
// "not set", as in struct spwd.
struct ShadowEntry {
  SecretString hash;
  long last_change = -1;  // sp_lstchg; 0 forces a change at next login
  long max_age = -1;      // sp_max
  long inactive = -1;     // sp_inact
  long expire = -1;       // sp_expire
};

enum class LookupStatus { kFound, kNotFound, kError };

template <typename T>
struct Lookup {
  LookupStatus status = LookupStatus::kError;
  T value;
};

// Where accounts come from: the system (NSS) in the daemon, a table in tests.
class AccountSource {
 public:
  virtual ~AccountSource() = default;
  virtual Lookup<SystemAccount> find_account(const std::string& name) = 0;
  virtual Lookup<ShadowEntry> find_shadow(const std::string& name) = 0;
};

// getpwnam_r / getspnam_r.
class NssAccountSource : public AccountSource {
 public:
  Lookup<SystemAccount> find_account(const std::string& name) override;
  Lookup<ShadowEntry> find_shadow(const std::string& name) override;
};

// The account rules alone, without the password: locked, expired, uid.
// `today` is days since 1970-01-01.
AccountCheck check_account_policy(const SystemAccount& account, const ShadowEntry* shadow,
                                  long today, uid_t first_valid_uid);

// True for user names pop3d passes to the system's user database: 1-64
// bytes of letters, digits, '.', '_', '-' (and a trailing '$' for Samba
// machine accounts is not one of them), not starting with '-' or '.'. The
// worker checks before it asks; the helper checks again.
bool is_valid_system_user_name(std::string_view name);

struct SystemCheckResult {
  AccountCheck check = AccountCheck::kTempFail;
  UserRecord user;  // set when check == kOk
};

// What the privileged helper asks: shadow and crypt(3) (SystemUsers), or
// PAM (PamUsers). `client_address` is what the helper itself read with
// getpeername() from the session's socket, never what a worker said: PAM
// passes it on as PAM_RHOST, which pam_access and friends decide by.
// Checks run in the helper's check processes, one at a time in each.
// The record a login of `name` would give, without a password or the
// shadow's dates: for administrators' tools (--print-uidls). An Error for
// an unknown name, root, a uid below `first_valid_uid` or a mail location
// that does not expand.
Result<UserRecord> system_user_record(AccountSource& source, const std::string& mail_location,
                                      uid_t first_valid_uid, const std::string& name);

class CredentialChecker {
 public:
  virtual ~CredentialChecker() = default;
  virtual SystemCheckResult check_credentials(std::string_view user, std::string_view password,
                                              std::string_view client_address) = 0;
};

class SystemUsers : public CredentialChecker {
 public:
  SystemUsers(AccountSource& source, std::string mail_location, uid_t first_valid_uid);

  SystemCheckResult check_credentials(std::string_view user, std::string_view password,
                                      std::string_view) override {
    return check(user, password, today());
  }

  // One crypt(3) verification whatever happens: against the user's hash,
  // or against a dummy in the cost class of the last real hash seen, so
  // unknown and refused users cost what real ones do.
  SystemCheckResult check(std::string_view user, std::string_view password, long today);

  // Days since 1970-01-01 now, for check().
  static long today();

  // What unknown users are checked against, for tests that show it holds
  // nothing of a real user's hash.
  std::string_view dummy_hash_for_test() const { return dummy_hash_.view(); }

 private:
  void spend_dummy_verification(std::string_view password) const;
  // Remakes the dummy when a real hash of another cost class is seen. Only
  // the class is taken from `stored`: agents are forked from the helper,
  // and none may carry a copy of another user's hash.
  void follow_cost_class(std::string_view stored);

  AccountSource& source_;
  std::string mail_location_;
  uid_t first_valid_uid_;
  SecretString dummy_hash_;  // random password and salt
  std::string dummy_class_;  // verification_cost_class() the dummy imitates
};

// auth.backend = "pam": the password and the account checks (expiry,
// locks, whatever the service's stack says) come from PAM service
// `service` (auth.pam_service); uid, gid and home from the user database.
// Root and uids below first_valid_uid are refused before PAM is asked, so
// guessing at them cannot lock them (pam_faillock) nor fill their logs.
// PAM's own failure delay is switched off: the helper serves every worker
// and must not sleep; the worker's auth.failure_delay does that job.
class PamUsers : public CredentialChecker {
 public:
  PamUsers(AccountSource& source, std::string service, std::string mail_location,
           uid_t first_valid_uid);
  SystemCheckResult check_credentials(std::string_view user, std::string_view password,
                                      std::string_view client_address) override;

 private:
  AccountSource& source_;
  std::string service_;
  std::string mail_location_;
  uid_t first_valid_uid_;
  SecretString dummy_hash_;
};

}  // namespace pop3d
