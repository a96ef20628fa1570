// LeaseKeeper: renews what a worker holds in Redis for the length of a
// session (its entry in the address's connection count, its maildrop's
// lease) from a thread of its own, because the session's own thread spends
// that time waiting on the client. A node that dies stops renewing, and what it held expires
// within one lease.
//
// The thread has its own RedisLink: a hiredis connection must not be used
// from two threads. It logs nothing (the worker's own link says when Redis
// goes and comes back), and a renewal that fails is tried again at the
// next period, two more times before the lease runs out.
//
// A worker confines itself (RLIMIT_NPROC 0) after it starts this thread:
// no thread can be started later.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sharedstate/redis_link.hpp"
#include "util/result.hpp"

namespace pop3d {

class LeaseKeeper {
 public:
  // `period`: how often the kept command runs (a third of the lease).
  static Result<std::unique_ptr<LeaseKeeper>> start(const RedisLinkConfig& link,
                                                    std::chrono::milliseconds period);
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;
  // Stops the thread, waiting (at most the link's time-out) for a renewal
  // under way.
  ~LeaseKeeper();

  // What is renewed: one command for each holder, so that each comes and
  // goes on its own.
  enum class Slot { kConnection, kMaildrop };

  // From now on, runs `renew` (one Redis command) every period.
  void keep(Slot slot, std::vector<std::string> renew);
  // No renewal of `slot` from now on: returns once none is under way, so
  // that the caller's removal of the entry is never followed by a renewal
  // that would bring it back.
  void forget(Slot slot);
  // Renewals Redis answered, for the tests.
  uint64_t renewals();

 private:
  using Clock = std::chrono::steady_clock;
  LeaseKeeper(const RedisLinkConfig& link, std::chrono::milliseconds period);
  void run();

  std::unique_ptr<RedisLink> link_;  // the thread's alone
  const std::chrono::milliseconds period_;
  std::mutex mutex_;  // held by the thread while it renews
  std::condition_variable wake_;
  bool stopping_ = false;
  struct Kept {
    std::vector<std::string> renew;  // empty: nothing to keep
    Clock::time_point next{};
  };
  std::array<Kept, 2> kept_;
  uint64_t renewals_ = 0;
  std::thread thread_;
};

}  // namespace pop3d
