// MaildropLock: one POP3 session per maildrop, across processes, and
// across servers during a switch-over.
//
// RFC 1939 requires an exclusive lock for the TRANSACTION state; flock() on
// a file inside the maildrop gives it among pop3d's own sessions, and the
// kernel releases it when the holder exits or crashes, so a dead worker
// never leaves a stale lock behind.
//
// Dovecot's POP3 with pop3_lock_session = yes keeps
// dovecot-pop3-session.lock, a dotlock in the control directory, for its
// whole session. pop3d takes that too (after its own lock, without
// waiting), so that while the old and the new server both run, neither
// enters a maildrop the other is serving: the one that comes second
// answers [IN-USE], as it does for a second session of its own.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "mailstore/dovecot_dotlock.hpp"
#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

inline constexpr char kMaildropLockFile[] = "pop3d.lock";
inline constexpr char kDovecotSessionLockFile[] = "dovecot-pop3-session.lock";
// Dovecot 2.3 breaks a session lock of a live process only after it has
// been left untouched for about an hour (measured: a lock 3700 s old
// stands, one 4000 s old is broken); a dead holder's lock at once. pop3d
// judges Dovecot's locks by the same rules.
inline constexpr std::chrono::seconds kDovecotSessionLockStale{3600};
// How often a session that uses its maildrop touches the Dovecot lock:
// well inside the hour, and rare enough to cost nothing.
inline constexpr std::chrono::seconds kDovecotSessionLockRefresh{600};

class MaildropLock {
 public:
  // Takes the lock on <maildir_fd>/pop3d.lock, then Dovecot's session
  // lock in `control_dir` (the Maildir, or Dovecot's CONTROL= directory),
  // neither with waiting. A maildrop held by another session, pop3d's or
  // Dovecot's, gives an Error with sys_errno EWOULDBLOCK. A control
  // directory that does not exist (Dovecot never served this maildrop)
  // needs no Dovecot lock.
  static Result<MaildropLock> acquire(int maildir_fd, const std::string& control_dir);

  MaildropLock(MaildropLock&&) noexcept = default;
  MaildropLock& operator=(MaildropLock&&) = delete;
  // Removes the Dovecot lock, then closing the descriptor drops the flock.
  ~MaildropLock() = default;

  // Called as the session uses its maildrop: keeps the Dovecot lock from
  // looking abandoned during a session longer than Dovecot's stale time.
  void refresh();

 private:
  MaildropLock(UniqueFd fd, std::optional<DovecotDotlock> dovecot)
      : fd_(std::move(fd)), dovecot_(std::move(dovecot)) {}
  UniqueFd fd_;  // declared first: released last
  std::optional<DovecotDotlock> dovecot_;
  std::chrono::steady_clock::time_point touched_ = std::chrono::steady_clock::now();
};

}  // namespace pop3d
