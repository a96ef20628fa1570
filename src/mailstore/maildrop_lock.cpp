#include "mailstore/maildrop_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include "log/logger.hpp"

namespace pop3d {

Result<MaildropLock> MaildropLock::acquire(int maildir_fd, const std::string& control_dir) {
  // O_NOFOLLOW: a symlink planted here must not make us create or lock a
  // file elsewhere. 0600: the lock file says nothing to other users.
  UniqueFd fd(::openat(maildir_fd, kMaildropLockFile,
                       O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600));
  if (!fd) return Error::from_errno(std::string("open ") + kMaildropLockFile);
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Error{"maildrop in use by another session", EWOULDBLOCK};
    return Error::from_errno(std::string("flock ") + kMaildropLockFile);
  }
  std::optional<DovecotDotlock> dovecot;
  if (!control_dir.empty()) {
    const std::string path = control_dir + "/" + kDovecotSessionLockFile;
    Result<DovecotDotlock> d =
        DovecotDotlock::acquire(path, kDovecotSessionLockStale, std::chrono::milliseconds(0));
    if (d) {
      dovecot.emplace(std::move(*d));
    } else if (d.error().sys_errno == EWOULDBLOCK) {
      return Error{"maildrop in use by a Dovecot POP3 session (" + path + ")", EWOULDBLOCK};
    } else if (d.error().sys_errno != ENOENT) {
      // pop3d's own lock holds; only a Dovecot running beside it on this
      // maildrop could enter, which is what a site had before the switch.
      log_warning("maildrop lock: cannot take Dovecot's session lock: " + d.error().message +
                  "; going on with pop3d's own");
    }
  }
  return MaildropLock(std::move(fd), std::move(dovecot));
}

void MaildropLock::refresh() {
  if (!dovecot_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - touched_ < kDovecotSessionLockRefresh) return;
  touched_ = now;
  dovecot_->touch();
}

}  // namespace pop3d
