// Dovecot's dotlocks, as pop3d takes and respects them beside Dovecot on
// the same Maildirs: dovecot-uidlist.lock (held for one write of the uid
// list) and dovecot-pop3-session.lock (held for a whole POP3 session when
// Dovecot runs with pop3_lock_session = yes).
//
// The lock is a file created with O_EXCL holding "<pid>:<host>", no
// newline, as Dovecot 2.3 writes it. Another process breaks it (removes it
// and tries again) when it is stale:
//   - its pid is of this host and no longer exists, or is our own pid (we
//     never hold one lock twice, so that is a leftover of a process that
//     had our pid before);
//   - or it has not been touched for `stale_after` (a holder on another
//     host, or one whose text cannot be read).
// Dovecot applies the same two rules, so a lock either of us leaves
// behind after a crash is broken by the other.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

class DovecotDotlock {
 public:
  // Creates `path`, waiting up to `wait` for a live holder (0: not at all).
  // An Error with sys_errno EWOULDBLOCK when a live lock outlasts the
  // wait; another errno when the lock cannot be made at all.
  static Result<DovecotDotlock> acquire(const std::string& path, std::chrono::seconds stale_after,
                                        std::chrono::milliseconds wait);

  DovecotDotlock(DovecotDotlock&& other) noexcept;
  DovecotDotlock& operator=(DovecotDotlock&&) = delete;
  DovecotDotlock(const DovecotDotlock&) = delete;
  // Removes the file, unless it is no longer ours (someone judged it stale
  // and made their own in its place: theirs must stay).
  ~DovecotDotlock();

  // Marks the lock as still held, for a holder that keeps it longer than
  // the others' stale time might allow.
  void touch() const;

 private:
  DovecotDotlock(std::string path, UniqueFd fd, dev_t dev, ino_t ino)
      : path_(std::move(path)), fd_(std::move(fd)), dev_(dev), ino_(ino) {}
  bool still_ours() const;

  std::string path_;  // empty once moved from
  // Kept open for the lock's life: while we hold it, its inode number
  // cannot go to another file, so dev/ino alone tell whether the file at
  // path_ is still ours.
  UniqueFd fd_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace pop3d
