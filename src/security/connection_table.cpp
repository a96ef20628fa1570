#include "security/connection_table.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>

#include "pop3/limits.hpp"
#include "security/anti_hammer_table.hpp"
#include "util/robust_mutex.hpp"

namespace pop3d {

struct ConnectionTable::Header {
  pthread_mutex_t mutex;  // first: the tests that play a subverted worker find it there
  // For --who / --kick, which must know the file is a table of this layout;
  // the daemon's processes never read these.
  uint64_t magic;
  uint64_t version;
  uint64_t capacity;
};

// Eviction, and why it can neither pass max_total nor lose a slot. A slot's
// `pid` is the session it counts; `successor` is a newcomer waiting for
// that slot, not yet greeted. Invariants, each kept under the lock:
//  - Only a session that has not logged in gets a successor, and a slot
//    has at most one. The victim itself decides (yield_if_asked, under the
//    lock): it hands the slot over only while not logged in, and logging in
//    (mark_logged_in) withdraws the claim. So a session that logged in is
//    never cut, whenever the newcomer picked it.
//  - A newcomer serves its client only once it is a slot's `pid`; while it
//    is a successor it counts nowhere and waits. So the sessions served
//    never outnumber the slots in use, which admission keeps within
//    max_total. (The victim, once it has yielded, only writes its one
//    farewell line, bounded by a second, and closes.)
//  - Whatever removes a slot's `pid` (yield, end of session, the master
//    reaping a dead worker) hands the slot to its successor (vacate());
//    whatever drops a successor (login, withdrawal, its death) leaves the
//    `pid`. So no slot is lost and no newcomer keeps a claim forever.
struct ConnectionTable::Slot {
  pid_t pid;  // 0: free
  // The address as counted: IPv6 cut to the prefix of the settings that
  // admitted it (after a reload that changes the prefix, sessions admitted
  // before count by the old one until they end).
  IpKey address;
  int64_t admitted_ns;  // now_ns() at admission: the oldest yields first
  uint32_t logged_in;   // nonzero: never evicted (garbage counts as logged in)
  pid_t successor;      // a newcomer waiting for this slot; 0: none
  IpKey successor_address;
  int64_t successor_admitted_ns;
  // For --who and --kick alone; nothing above depends on them.
  IpKey client;  // the client's own address, as the log names it
  IpKey successor_client;
  int64_t since;  // CLOCK_REALTIME seconds at admission, for display
  int64_t successor_since;
  // Written by the worker that holds the slot, without the lock (relaxed
  // atomic stores): the session's path takes no lock per write.
  uint64_t octets_sent;
  uint32_t kick;  // nonzero: the administrator asked the session to end
  // Set at login; the writer leaves a NUL after it, readers do not count
  // on one.
  char user[ConnectionTable::kMaxUser + 1];
};

static_assert(ConnectionTable::kMaxUser == pop3_limits::kMaxUserName);

namespace {
// Slots start on a cache line of their own, after the header.
constexpr size_t kSlotsOffset = 256;
// Dead workers the master remembers while the lock stays busy; past this,
// it forgets them and instead frees, once it gets the lock, every slot
// whose process is gone. Enough for a pool's worth of deaths.
constexpr size_t kMaxPendingReleases = 1024;

constexpr char kWhat[] = "the session table";
constexpr uint64_t kMagic = 0x706f7033646c6f67ULL;  // "pop3dlog"
constexpr uint64_t kVersion = 1;

int64_t wall_seconds() {
  return static_cast<int64_t>(::time(nullptr));
}

timespec deadline_after(std::chrono::milliseconds wait) {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  const auto ms = std::max<int64_t>(0, wait.count());
  ts.tv_sec += static_cast<time_t>(ms / 1000);
  ts.tv_nsec += static_cast<long>(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec += 1;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

Error lock_busy() {
  return Error{"the session table stays locked by another process (a stuck worker?)"};
}

// The user a slot names, bounded whatever the bytes are.
std::string_view slot_user(const char (&user)[ConnectionTable::kMaxUser + 1]) {
  return std::string_view(user, ::strnlen(user, ConnectionTable::kMaxUser));
}
}  // namespace

ConnectionTable::Header* ConnectionTable::header() const {
  return mapping_.array_at<Header>(0, 1);
}

ConnectionTable::Slot* ConnectionTable::slots() const {
  static_assert(sizeof(Header) <= kSlotsOffset);
  return mapping_.array_at<Slot>(kSlotsOffset, capacity_);
}

Result<size_t> ConnectionTable::mapping_size(size_t capacity) {
  if (capacity == 0 || capacity > (SIZE_MAX - kSlotsOffset) / sizeof(Slot)) {
    return Error{"the connection table cannot have " + std::to_string(capacity) + " slots"};
  }
  return kSlotsOffset + capacity * sizeof(Slot);
}

Result<ConnectionTable> ConnectionTable::create(size_t capacity) {
  const Result<size_t> wanted = mapping_size(capacity);
  if (!wanted) return wanted.error();
  const size_t size = *wanted;
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return Error::from_errno("cannot map the connection table");
  ConnectionTable table{SharedMapping(base, size), capacity};
  table.initialize();
  return table;
}

void ConnectionTable::initialize() {
  Header* h = header();  // a new mapping: all zero
  h->magic = kMagic;
  h->version = kVersion;
  h->capacity = capacity_;
  init_robust_mutex(&h->mutex);
}

Result<ConnectionTable> ConnectionTable::create(const std::string& path, size_t capacity,
                                                std::optional<Owner> owner) {
  const Result<size_t> wanted = mapping_size(capacity);
  if (!wanted) return wanted.error();
  auto mapping = create_table_file(path, *wanted, owner, kWhat);
  if (!mapping) return mapping.error();
  ConnectionTable table{std::move(*mapping), capacity};
  table.initialize();
  return table;
}

Result<ConnectionTable> ConnectionTable::open(const std::string& path) {
  auto mapping = open_table_file(path, kSlotsOffset, sizeof(Slot), kWhat);
  if (!mapping) return mapping.error();
  const size_t capacity = (mapping->size() - kSlotsOffset) / sizeof(Slot);
  ConnectionTable table{std::move(*mapping), capacity};
  const Header* h = table.header();
  if (h->magic != kMagic || h->version != kVersion || h->capacity != capacity) {
    return Error{"the session table " + path + " is not one this pop3d understands"};
  }
  return table;
}

int64_t ConnectionTable::now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Admission ConnectionTable::admit(pid_t pid, const IpKey& client, size_t max_total,
                                 size_t max_per_address, int ipv6_prefix) {
  const IpKey address = AntiHammerTable::key_for(client, ipv6_prefix);
  RobustLock guard(&header()->mutex);
  return place(pid, client, address, max_total, max_per_address, now_ns(), false, {}, nullptr);
}

AdmitResult ConnectionTable::admit_or_evict(pid_t pid, const IpKey& client, size_t max_total,
                                            size_t max_per_address, int ipv6_prefix, int64_t now,
                                            const std::vector<pid_t>& spare) {
  const IpKey address = AntiHammerTable::key_for(client, ipv6_prefix);
  RobustLock guard(&header()->mutex);
  size_t victim = 0;
  AdmitResult r;
  r.admission = place(pid, client, address, max_total, max_per_address, now, true, spare, &victim);
  if (r.admission == Admission::kEvicting) {
    r.slot = victim;
    r.victim = slots()[victim].pid;
  }
  return r;
}

Admission ConnectionTable::place(pid_t pid, const IpKey& client, const IpKey& address,
                                 size_t max_total, size_t max_per_address, int64_t now,
                                 bool may_evict, const std::vector<pid_t>& spare, size_t* victim) {
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
    // A newcomer waiting for a slot counts for its address already, so
    // that several at once cannot pass the per-address limit.
    if (s.successor != 0 && s.successor_address == address) ++same_address;
  }
  // Over its own limit, a newcomer is refused, not given someone's slot;
  // when the table is full, the reason stays "too many connections", as
  // it was before eviction.
  const bool over_address = max_per_address > 0 && same_address >= max_per_address;
  if (active >= max_total && (!may_evict || over_address)) return Admission::kTooManyConnections;
  if (over_address) return Admission::kTooManyFromAddress;
  if (active < max_total && free_slot != nullptr) {
    *free_slot = Slot{};
    free_slot->pid = pid;
    free_slot->address = address;
    free_slot->admitted_ns = now;
    free_slot->client = client;
    free_slot->since = wall_seconds();
    return Admission::kAdmitted;
  }
  if (!may_evict) return Admission::kTooManyConnections;

  // Sessions per address, to find the address the crowd comes from.
  std::vector<IpKey> counted;
  counted.reserve(active);
  for (size_t i = 0; i < capacity_; ++i) {
    if (slots()[i].pid != 0) counted.push_back(slots()[i].address);
  }
  std::sort(counted.begin(), counted.end());
  size_t best = capacity_;
  size_t best_count = 0;
  for (size_t i = 0; i < capacity_; ++i) {
    const Slot& s = slots()[i];
    // pid <= 1 cannot be a worker (garbage, or a pid the caller must never
    // signal); a slot already claimed has its newcomer.
    if (s.pid <= 1 || s.pid == pid || s.logged_in != 0 || s.successor != 0) continue;
    if (std::find(spare.begin(), spare.end(), s.pid) != spare.end()) continue;
    const auto run = std::equal_range(counted.begin(), counted.end(), s.address);
    const auto count = static_cast<size_t>(run.second - run.first);
    if (best == capacity_ || count > best_count ||
        (count == best_count && s.admitted_ns < slots()[best].admitted_ns)) {
      best = i;
      best_count = count;
    }
  }
  if (best == capacity_) return Admission::kTooManyConnections;
  Slot& s = slots()[best];
  s.successor = pid;
  s.successor_address = address;
  s.successor_admitted_ns = now;
  s.successor_client = client;
  s.successor_since = wall_seconds();
  *victim = best;
  return Admission::kEvicting;
}

Handover ConnectionTable::handover_state(pid_t pid, size_t slot) {
  if (slot >= capacity_) return Handover::kRefused;
  RobustLock guard(&header()->mutex);
  const Slot& s = slots()[slot];
  if (s.pid == pid) return Handover::kDone;
  return s.successor == pid ? Handover::kPending : Handover::kRefused;
}

Handover ConnectionTable::cancel_handover(pid_t pid, size_t slot) {
  if (slot >= capacity_) return Handover::kRefused;
  RobustLock guard(&header()->mutex);
  Slot& s = slots()[slot];
  if (s.pid == pid) return Handover::kDone;
  if (s.successor == pid) {
    s.successor = 0;
    s.successor_address = IpKey{};
    s.successor_admitted_ns = 0;
  }
  return Handover::kRefused;
}

void ConnectionTable::vacate(Slot& s) {
  if (s.successor == 0) {
    s = Slot{};
    return;
  }
  Slot next{};
  next.pid = s.successor;
  next.address = s.successor_address;
  next.admitted_ns = s.successor_admitted_ns;
  next.client = s.successor_client;
  next.since = s.successor_since;
  s = next;
}

Yield ConnectionTable::yield_if_asked(pid_t pid) {
  RobustLock guard(&header()->mutex);
  Yield answer = Yield::kStay;
  for (size_t i = 0; i < capacity_; ++i) {
    Slot& s = slots()[i];
    if (s.pid != pid || s.successor == 0) continue;
    if (s.logged_in != 0) {
      s.successor = 0;  // logged in after it was picked: it stays
      continue;
    }
    vacate(s);
    answer = Yield::kYielded;
  }
  return answer;
}

void ConnectionTable::mark_logged_in(pid_t pid, std::string_view user) {
  const size_t n = std::min(user.size(), kMaxUser);
  RobustLock guard(&header()->mutex);
  for (size_t i = 0; i < capacity_; ++i) {
    Slot& s = slots()[i];
    if (s.pid != pid) continue;
    s.logged_in = 1;
    s.successor = 0;
    std::memset(s.user, 0, sizeof s.user);
    // An empty view may hold no pointer at all (memcpy must not see null).
    if (n > 0) std::memcpy(s.user, user.data(), n);
  }
}

size_t ConnectionTable::slot_of(pid_t pid) {
  RobustLock guard(&header()->mutex);
  for (size_t i = 0; i < capacity_; ++i) {
    if (slots()[i].pid == pid) return i;
  }
  return kNoSlot;
}

void ConnectionTable::record_octets_sent(size_t slot, uint64_t total) {
  if (slot >= capacity_) return;
  std::atomic_ref<uint64_t>(slots()[slot].octets_sent).store(total, std::memory_order_relaxed);
}

bool ConnectionTable::kick_requested(pid_t pid) {
  RobustLock guard(&header()->mutex);
  for (size_t i = 0; i < capacity_; ++i) {
    const Slot& s = slots()[i];
    if (s.pid == pid && s.kick != 0) return true;
  }
  return false;
}

Result<std::vector<SessionInfo>> ConnectionTable::snapshot(std::chrono::milliseconds wait) {
  RobustLock guard(&header()->mutex, deadline_after(wait));
  if (!guard.held()) return lock_busy();
  std::vector<SessionInfo> sessions;
  for (size_t i = 0; i < capacity_; ++i) {
    Slot& s = slots()[i];
    // Field by field: octets_sent may change under us (its owner stores it
    // without the lock), everything else is only as true as the workers
    // that wrote it.
    if (s.pid <= 0) continue;
    SessionInfo info;
    info.pid = s.pid;
    info.logged_in = s.logged_in != 0;
    if (info.logged_in) info.user = std::string(slot_user(s.user));
    info.client = s.client;
    info.since = s.since;
    info.octets_sent = std::atomic_ref<uint64_t>(s.octets_sent).load(std::memory_order_relaxed);
    sessions.push_back(std::move(info));
  }
  return sessions;
}

Result<std::vector<pid_t>> ConnectionTable::request_kick(std::string_view user,
                                                         std::chrono::milliseconds wait) {
  RobustLock guard(&header()->mutex, deadline_after(wait));
  if (!guard.held()) return lock_busy();
  std::vector<pid_t> pids;
  if (user.empty() || user.size() > kMaxUser) return pids;
  for (size_t i = 0; i < capacity_; ++i) {
    Slot& s = slots()[i];
    // pid <= 1 is garbage, or a pid nobody may signal (-1: every process
    // we can reach, 0: our process group, 1: init).
    if (s.pid <= 1 || s.logged_in == 0 || slot_user(s.user) != user) continue;
    s.kick = 1;
    if (std::find(pids.begin(), pids.end(), s.pid) == pids.end()) pids.push_back(s.pid);
  }
  return pids;
}

void ConnectionTable::free_pending() {
  for (size_t i = 0; i < capacity_; ++i) {
    Slot& s = slots()[i];
    const auto dead = [this](pid_t p) {
      return std::find(pending_.begin(), pending_.end(), p) != pending_.end() ||
             (sweep_ && p > 0 && ::kill(p, 0) < 0 && errno == ESRCH);
    };
    if (s.successor != 0 && dead(s.successor)) s.successor = 0;
    if (s.pid != 0 && dead(s.pid)) vacate(s);
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
    if (s.pid == pid) {
      vacate(s);
    } else if (s.successor == pid) {
      s.successor = 0;
    }
  }
}

size_t ConnectionTable::active_estimate() const {
  size_t n = 0;
  for (size_t i = 0; i < capacity_; ++i) {
    n += __atomic_load_n(&slots()[i].pid, __ATOMIC_RELAXED) != 0 ? 1 : 0;
  }
  return n;
}

size_t ConnectionTable::active() {
  RobustLock guard(&header()->mutex);
  size_t n = 0;
  for (size_t i = 0; i < capacity_; ++i) n += slots()[i].pid != 0 ? 1 : 0;
  return n;
}

}  // namespace pop3d
