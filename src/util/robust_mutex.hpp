// A mutex in memory shared by processes, robust against its holder dying:
// a worker killed while holding it does not wedge the others; the next
// locker marks it consistent and goes on (the data it guards must stay
// valid field by field, as the shared tables' data does).
#pragma once

#include <pthread.h>

#include <cerrno>

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
  explicit RobustLock(pthread_mutex_t* m) : m_(m) {
    if (pthread_mutex_lock(m_) == EOWNERDEAD) pthread_mutex_consistent(m_);
  }
  ~RobustLock() { pthread_mutex_unlock(m_); }
  RobustLock(const RobustLock&) = delete;
  RobustLock& operator=(const RobustLock&) = delete;

 private:
  pthread_mutex_t* m_;
};

}  // namespace pop3d
