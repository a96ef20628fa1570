// PasswdFileUsers: the UserDb of virtual users listed in a passwd file.
//
// The master loads the file once before forking, so every worker starts
// with the table in memory. Before an authentication the file is looked at
// (stat, at most once per recheck interval) and re-read when its inode,
// size or mtime changed; a failed re-read keeps the old table.
//
// Not thread-safe: each process (master or worker) has its own copy.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "auth/login_cache.hpp"
#include "auth/passwd_file.hpp"
#include "auth/secret_string.hpp"
#include "auth/user_db.hpp"
#include "util/result.hpp"

namespace pop3d {

// Logins can come many times a second; a stat() per login is cheap but
// one per second is plenty to pick up an administrator's edit.
inline constexpr std::chrono::milliseconds kPasswdRecheckInterval{1000};

// Successful logins are remembered this long (see LoginCache): long enough
// for clients that poll every few minutes, short enough that a session
// never outlives a password change by much. Each worker keeps its own.
inline constexpr std::chrono::seconds kLoginCacheTtl{300};
// Bounds the cache's memory per worker (about 100 bytes an entry).
inline constexpr size_t kLoginCacheCapacity = 4096;

class PasswdFileUsers : public UserDb {
 public:
  using Clock = std::chrono::steady_clock;

  // Loads the file now; if that fails the reason is logged and kept, and
  // authentication answers kTempFail until a later re-read works.
  PasswdFileUsers(std::string path, std::string mail_location,
                  std::chrono::milliseconds recheck_interval = kPasswdRecheckInterval);

  // (Re-)reads the file now. On failure the previous table, if any, stays.
  Status load();
  // The result of the first load, for start-up code that wants to refuse
  // to start with an unreadable passwd file.
  const Status& initial_load_status() const { return initial_status_; }

  AuthOutcome authenticate(std::string_view user, std::string_view password) override;
  AuthOutcome authenticate_apop(std::string_view user, std::string_view timestamp,
                                std::string_view digest) override;
  bool apop_available() override;

  size_t user_count() const { return table_ ? table_->users.size() : 0; }

 private:
  // Re-reads the file if it changed and the recheck interval has passed.
  void reload_if_changed();
  // The user's record with the mail location expanded, or a kTempFail.
  AuthOutcome accept(const PasswdEntry& entry) const;
  AuthOutcome temp_fail() const;
  // Verifies `password` against a dummy in the typical secret's cost class
  // and ignores the result.
  void spend_typical_verification_time(std::string_view password) const;

  std::string path_;
  std::string mail_location_;
  std::chrono::milliseconds recheck_interval_;
  std::optional<PasswdTable> table_;
  FileIdentity identity_;
  Clock::time_point last_check_{};
  Status initial_status_;
  std::string last_error_;  // why the last load failed, "" after a success
  LoginCache cache_{kLoginCacheTtl, kLoginCacheCapacity};
  SecretString dummy_hash_;  // made at each load, from random bytes
};

}  // namespace pop3d
