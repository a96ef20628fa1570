#include "sharedstate/lease_keeper.hpp"

#include <signal.h>
#include <sys/prctl.h>

#include <system_error>

namespace pop3d {

LeaseKeeper::LeaseKeeper(const RedisLinkConfig& link, std::chrono::milliseconds period)
    : link_(std::make_unique<RedisLink>(link, nullptr)), period_(period) {}

Result<std::unique_ptr<LeaseKeeper>> LeaseKeeper::start(const RedisLinkConfig& link,
                                                        std::chrono::milliseconds period) {
  std::unique_ptr<LeaseKeeper> keeper(new LeaseKeeper(link, period));
  // Every signal stays with the worker's own thread, which waits for them
  // with sigsuspend-style masks: the new thread starts with all blocked.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  std::string failed;
  try {
    keeper->thread_ = std::thread([k = keeper.get()] { k->run(); });
  } catch (const std::system_error& e) {
    failed = e.what();
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!failed.empty()) return Error{"cannot start the lease keeper thread: " + failed};
  return keeper;
}

LeaseKeeper::~LeaseKeeper() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void LeaseKeeper::keep(Slot slot, std::vector<std::string> renew) {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    Kept& k = kept_[static_cast<size_t>(slot)];
    k.renew = std::move(renew);
    k.next = Clock::now() + period_;
  }
  wake_.notify_one();
}

void LeaseKeeper::forget(Slot slot) {
  const std::lock_guard<std::mutex> lock(mutex_);
  kept_[static_cast<size_t>(slot)].renew.clear();
}

uint64_t LeaseKeeper::renewals() {
  const std::lock_guard<std::mutex> lock(mutex_);
  return renewals_;
}

void LeaseKeeper::run() {
  // no_new_privs is per thread, and the worker sets it on its own thread
  // only (confine_process, after this thread exists).
  (void)::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    Kept* due = nullptr;
    for (Kept& k : kept_) {
      if (!k.renew.empty() && (due == nullptr || k.next < due->next)) due = &k;
    }
    if (due == nullptr) {
      wake_.wait(lock);
      continue;
    }
    if (Clock::now() < due->next) {
      wake_.wait_until(lock, due->next);
      continue;
    }
    // Under the lock, so that forget() waits for it (see there); the link
    // bounds it by its time-out.
    if (link_->command(due->renew)) ++renewals_;
    due->next = Clock::now() + period_;
  }
}

}  // namespace pop3d
