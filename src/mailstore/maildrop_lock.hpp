// MaildropLock: one POP3 session per maildrop, across processes. RFC 1939
// requires an exclusive lock for the TRANSACTION state; flock() on a file
// inside the maildrop gives it, and the kernel releases it when the holder
// exits or crashes, so a dead worker never leaves a stale lock behind.
#pragma once

#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

inline constexpr char kMaildropLockFile[] = "pop3d.lock";

class MaildropLock {
 public:
  // Takes the lock on <maildir_fd>/pop3d.lock without waiting. A maildrop
  // held by another session gives an Error with sys_errno EWOULDBLOCK.
  static Result<MaildropLock> acquire(int maildir_fd);

  MaildropLock(MaildropLock&&) noexcept = default;
  MaildropLock& operator=(MaildropLock&&) noexcept = default;
  // Closing the descriptor drops the lock.
  ~MaildropLock() = default;

 private:
  explicit MaildropLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace pop3d
