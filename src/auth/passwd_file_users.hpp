// PasswdFileUsers: the UserDb of virtual users listed in a passwd file.
//
// The master loads the file before forking, so every worker starts with the
// table in memory, shared by copy-on-write. Only the master re-reads it: it
// watches the file (PasswdFileWatch), calls reload_if_changed(), and on a
// new table replaces its workers, which then share the new table again.
// Workers never read the file: 200 workers re-reading a large file would
// each hold a private copy of it.
//
// A worker of an older generation that is still in a session when the
// master takes a new table must not check a password against its old copy
// (a changed password would still let the old one in): the master bumps a
// version on a page every worker maps read-only, and a worker whose table is
// older answers kTempFail; the client retries and meets a new worker.
//
// Not thread-safe: each process (master or worker) has its own copy.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/login_cache.hpp"
#include "auth/passwd_file.hpp"
#include "auth/secret_string.hpp"
#include "auth/user_db.hpp"
#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

// Without inotify the master stats the file this often: an administrator's
// edit is picked up within about a second, for one stat() a second.
inline constexpr std::chrono::milliseconds kPasswdPollInterval{1000};
// After a write that may not be the last (the file is still open, or was
// just created), the master waits this long for more before reading, so it
// does not take a half-written file.
inline constexpr std::chrono::milliseconds kPasswdSettleDelay{500};

// Successful logins are remembered this long (see LoginCache): long enough
// for clients that poll every few minutes, short enough that a session
// never outlives a password change by much. Each worker keeps its own.
inline constexpr std::chrono::seconds kLoginCacheTtl{300};
// Bounds the cache's memory per worker (about 100 bytes an entry).
inline constexpr size_t kLoginCacheCapacity = 4096;

// The version of the table the master holds, on one shared page that the
// master writes and every process forked from it can only read (a worker
// cannot make others believe their table is current, or stale).
class PasswdTableVersion {
 public:
  // A fresh page at version 0. Never fails: without memfd or /proc the
  // page is an anonymous shared one that workers could also write.
  static std::shared_ptr<PasswdTableVersion> create();
  ~PasswdTableVersion();
  PasswdTableVersion(const PasswdTableVersion&) = delete;
  PasswdTableVersion& operator=(const PasswdTableVersion&) = delete;

  uint64_t current() const;
  // Master only: the version for a table read from `identity`; a new one
  // when it differs from the last published (a SIGHUP that re-reads the
  // same file keeps the old workers' table current).
  uint64_t publish(const FileIdentity& identity);
  // In a worker, right after the fork: keeps only the read-only mapping.
  void drop_write_access();

 private:
  PasswdTableVersion() = default;
  uint64_t* writable_ = nullptr;        // the master's mapping, not inherited
  const uint64_t* readable_ = nullptr;  // inherited by every worker
  size_t size_ = 0;
  std::optional<FileIdentity> published_;
};

enum class PasswdReload {
  kUnchanged,  // same file as the table in use, or the same broken one again
  kReloaded,   // a new table is in use: replace the workers
  kKeptOld,    // the file changed but could not be used; the reason is logged
};

class PasswdFileUsers : public UserDb {
 public:
  // Loads the file now; if that fails the reason is logged and kept, and
  // authentication answers kTempFail until a later re-read works. `version`
  // is shared with the previous object on a reload, so that workers forked
  // with that one learn when the table they hold is out of date.
  PasswdFileUsers(std::string path, std::string mail_location,
                  std::shared_ptr<PasswdTableVersion> version = nullptr);

  // (Re-)reads the file now. On failure the previous table, if any, stays.
  Status load();
  // The result of the first load, for start-up code that wants to refuse
  // to start with an unreadable passwd file.
  const Status& initial_load_status() const { return initial_status_; }

  // Master only: re-reads the file if it is not the one the table came
  // from. An edit that adds malformed lines is refused as a whole (a half
  // saved or mistyped edit would lock out the users on those lines), and a
  // file that stays broken is reported once, not at every look.
  PasswdReload reload_if_changed();
  // Master only: makes this object's table the current one, which makes
  // the tables of workers forked before it stale if it came from another
  // file. reload_if_changed() does it itself; after a SIGHUP the master
  // calls it once the new settings are in use (not before: a reload that
  // fails later keeps the old workers, whose table must stay current).
  void publish();

  AuthOutcome authenticate(std::string_view user, std::string_view password) override;
  AuthOutcome authenticate_apop(std::string_view user, std::string_view timestamp,
                                std::string_view digest) override;
  bool apop_available() override;

  // The record a right password would give `user` (before the extra
  // fields are applied), or kUnknownUser: for administrators' tools, never
  // for a login.
  AuthOutcome record_of(std::string_view user) const;

  size_t user_count() const { return table_ ? table_->users.size() : 0; }
  const std::string& path() const { return path_; }
  const std::shared_ptr<PasswdTableVersion>& version() const { return version_; }

 private:
  Status load(bool refuse_new_bad_lines);
  // True when the master has taken a newer table than this process holds.
  bool table_is_stale() const;
  // The user's record with the mail location expanded, or a kTempFail.
  AuthOutcome accept(const PasswdEntry& entry) const;
  AuthOutcome temp_fail() const;
  // Verifies `password` against the dummy of every cost class but
  // `own_class` (a known user's own check stood in for that one) and
  // ignores the results.
  void spend_other_classes(std::string_view password, std::string_view own_class) const;
  // What a refusal that needs no check costs instead: what a known user's
  // wrong password costs (the login cache's look, then one check in every
  // cost class).
  void spend_as_for_a_wrong_password(std::string_view user, std::string_view password) const;

  std::string path_;
  std::string mail_location_;
  std::shared_ptr<PasswdTableVersion> version_;
  uint64_t table_version_ = 0;
  std::optional<PasswdTable> table_;
  FileIdentity identity_;
  // What reload_if_changed() last found unusable, so it is reported once.
  std::optional<FileIdentity> refused_identity_;
  Status initial_status_;
  std::string last_error_;  // why the last load failed, "" after a success
  LoginCache cache_{kLoginCacheTtl, kLoginCacheCapacity};
  // A refused login costs one check in each cost class the file holds,
  // whoever asked: an unknown name checks against all of these, a known
  // user's wrong password against its own secret and the others'. No single
  // dummy can cost what {PLAIN}, SHA512-CRYPT and BLF-CRYPT users each
  // cost; the sum of all does, for each of them. Made at each load, from
  // random bytes (dummy_hash.hpp); one default dummy for an empty file.
  struct ClassDummy {
    std::string cost_class;
    SecretString hash;
  };
  std::vector<ClassDummy> dummies_;
};

// Tells the master when the passwd-file may have changed. inotify watches
// the file's directory (and that of a symlink's target), not the file, so
// that an editor that writes a new file and renames it over the old one is
// seen as well as a rewrite in place. Without inotify, polling() is true and
// the master looks every kPasswdPollInterval instead.
class PasswdFileWatch {
 public:
  explicit PasswdFileWatch(const std::string& path);

  // The descriptor to wait on; -1 when polling.
  int fd() const { return fd_.get(); }
  bool polling() const { return !fd_; }

  struct Events {
    bool check_now = false;    // a finished write, a rename, a removal
    bool check_later = false;  // a write that may go on (kPasswdSettleDelay)
  };
  // Reads what is pending without blocking. A watch that was lost (its
  // directory removed or renamed) turns into polling.
  Events drain();
  // Follows the symlink again (its target may have moved), after a re-read.
  void refresh();

 private:
  void watch_directory_of(const std::string& file);

  std::string path_;
  UniqueFd fd_;
  std::vector<int> watches_;
  std::vector<std::string> names_;  // the file names in the watched directories
};

}  // namespace pop3d
