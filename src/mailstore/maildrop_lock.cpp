#include "mailstore/maildrop_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace pop3d {

Result<MaildropLock> MaildropLock::acquire(int maildir_fd) {
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
  return MaildropLock(std::move(fd));
}

}  // namespace pop3d
