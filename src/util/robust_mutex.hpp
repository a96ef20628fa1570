// A mutex in memory shared by processes, robust against its holder dying:
// a worker killed while holding it does not wedge the others; the next
// locker marks it consistent and goes on (the data it guards must stay
// valid field by field, as the shared tables' data does).
//
// A live holder is another matter: a subverted worker can take the lock
// and never give it back, or write garbage over the mutex itself. Workers
// may wait (a worker that wedges its peers has already lost them), but the
// master must not: it only tries the lock and, when the lock is busy,
// skips the work and comes back to it later.
#pragma once

#include <pthread.h>

#include <cerrno>
#include <ctime>

namespace pop3d {

// Initializes `m`, which lives in a MAP_SHARED mapping.
inline void init_robust_mutex(pthread_mutex_t* m) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(m, &attr);
  pthread_mutexattr_destroy(&attr);
}

// Holds a robust mutex for its scope; repairs it when its last owner died.
class RobustLock {
 public:
  // Waits as long as it takes. Should the mutex be unusable (overwritten
  // by a worker), goes on without it: the data stays safe to read field by
  // field, only a count may be lost to a race.
  explicit RobustLock(pthread_mutex_t* m) : m_(m) { settle(pthread_mutex_lock(m_)); }

  // Only tries: for the master, which must not wait on a worker; see held().
  struct TryOnly {};
  RobustLock(pthread_mutex_t* m, TryOnly) : m_(m) { settle(pthread_mutex_trylock(m_)); }

  // Waits until `deadline` (CLOCK_REALTIME) at most: for the
  // administrator's commands, which must answer even when a worker holds
  // the lock for good; see held().
  RobustLock(pthread_mutex_t* m, const timespec& deadline) : m_(m) {
    settle(pthread_mutex_timedlock(m_, &deadline));
  }

  ~RobustLock() {
    if (held_) pthread_mutex_unlock(m_);
  }
  RobustLock(const RobustLock&) = delete;
  RobustLock& operator=(const RobustLock&) = delete;

  // False when another process holds the lock (TryOnly, or still at the
  // deadline), or the mutex is not a usable mutex.
  bool held() const { return held_; }

 private:
  void settle(int rc) {
    if (rc == EOWNERDEAD) {
      pthread_mutex_consistent(m_);
      rc = 0;
    }
    held_ = rc == 0;
  }

  pthread_mutex_t* m_;
  bool held_ = false;
};

}  // namespace pop3d
