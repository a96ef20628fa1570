#include "security/connection_table.hpp"

#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>

#include "security/anti_hammer_table.hpp"
#include "util/robust_mutex.hpp"

namespace pop3d {

struct ConnectionTable::Header {
  pthread_mutex_t mutex;
};

struct ConnectionTable::Slot {
  pid_t pid;  // 0: free
  // The address as counted: IPv6 cut to the prefix of the settings that
  // admitted it (after a reload that changes the prefix, sessions admitted
  // before count by the old one until they end).
  IpKey address;
};

namespace {
// Slots start on a cache line of their own, after the header.
constexpr size_t kSlotsOffset = 256;
// Dead workers the master remembers while the lock stays busy; past this,
// it forgets them and instead frees, once it gets the lock, every slot
// whose process is gone. Enough for a pool's worth of deaths.
constexpr size_t kMaxPendingReleases = 1024;
}  // namespace

ConnectionTable::Header* ConnectionTable::header() const {
  return mapping_.array_at<Header>(0, 1);
}

ConnectionTable::Slot* ConnectionTable::slots() const {
  static_assert(sizeof(Header) <= kSlotsOffset);
  return mapping_.array_at<Slot>(kSlotsOffset, capacity_);
}

Result<ConnectionTable> ConnectionTable::create(size_t capacity) {
  if (capacity == 0 || capacity > (SIZE_MAX - kSlotsOffset) / sizeof(Slot)) {
    return Error{"the connection table cannot have " + std::to_string(capacity) + " slots"};
  }
  const size_t size = kSlotsOffset + capacity * sizeof(Slot);
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return Error::from_errno("cannot map the connection table");
  ConnectionTable table{SharedMapping(base, size), capacity};
  init_robust_mutex(&table.header()->mutex);
  return table;
}

Admission ConnectionTable::admit(pid_t pid, const IpKey& client, size_t max_total,
                                 size_t max_per_address, int ipv6_prefix) {
  const IpKey address = AntiHammerTable::key_for(client, ipv6_prefix);
  RobustLock guard(&header()->mutex);
  Slot* free_slot = nullptr;
  size_t active = 0;
  size_t same_address = 0;
  for (size_t i = 0; i < capacity_; ++i) {
    Slot& s = slots()[i];
    if (s.pid == 0) {
      if (free_slot == nullptr) free_slot = &s;
      continue;
    }
    ++active;
    if (s.address == address) ++same_address;
  }
  if (active >= max_total) return Admission::kTooManyConnections;
  if (max_per_address > 0 && same_address >= max_per_address) {
    return Admission::kTooManyFromAddress;
  }
  if (free_slot == nullptr) return Admission::kTooManyConnections;
  free_slot->pid = pid;
  free_slot->address = address;
  return Admission::kAdmitted;
}

void ConnectionTable::free_pending() {
  for (size_t i = 0; i < capacity_; ++i) {
    Slot& s = slots()[i];
    if (s.pid == 0) continue;
    const bool dead = std::find(pending_.begin(), pending_.end(), s.pid) != pending_.end() ||
                      (sweep_ && s.pid > 0 && ::kill(s.pid, 0) < 0 && errno == ESRCH);
    if (dead) s = Slot{};
  }
  pending_.clear();
  sweep_ = false;
}

TableAccess ConnectionTable::release(pid_t pid) {
  if (pending_.size() < kMaxPendingReleases) {
    pending_.push_back(pid);
  } else {
    pending_.clear();
    sweep_ = true;
  }
  return retry_releases();
}

TableAccess ConnectionTable::retry_releases() {
  if (pending_.empty() && !sweep_) return TableAccess::kDone;
  RobustLock guard(&header()->mutex, RobustLock::TryOnly{});
  if (!guard.held()) return TableAccess::kBusy;
  free_pending();
  return TableAccess::kDone;
}

void ConnectionTable::end_session(pid_t pid) {
  RobustLock guard(&header()->mutex);
  for (size_t i = 0; i < capacity_; ++i) {
    Slot& s = slots()[i];
    if (s.pid == pid) s = Slot{};
  }
}

size_t ConnectionTable::active() {
  RobustLock guard(&header()->mutex);
  size_t n = 0;
  for (size_t i = 0; i < capacity_; ++i) n += slots()[i].pid != 0 ? 1 : 0;
  return n;
}

}  // namespace pop3d
