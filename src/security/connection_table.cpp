#include "security/connection_table.hpp"

#include <sys/mman.h>

#include <cerrno>

namespace pop3d {

struct ConnectionTable::Header {
  pthread_mutex_t mutex;
  size_t capacity;
  size_t active;
};

struct ConnectionTable::Slot {
  pid_t pid;  // 0: free
  IpKey address;
};

namespace {
// Slots start on a cache line of their own, after the header.
constexpr size_t kSlotsOffset = 256;
}  // namespace

class ConnectionTable::Guard {
 public:
  explicit Guard(pthread_mutex_t* m) : m_(m) {
    if (pthread_mutex_lock(m_) == EOWNERDEAD) pthread_mutex_consistent(m_);
  }
  ~Guard() { pthread_mutex_unlock(m_); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  pthread_mutex_t* m_;
};

ConnectionTable::Header* ConnectionTable::header() const {
  return static_cast<Header*>(mapping_.get());
}

ConnectionTable::Slot* ConnectionTable::slots() const {
  static_assert(sizeof(Header) <= kSlotsOffset);
  return reinterpret_cast<Slot*>(static_cast<char*>(mapping_.get()) + kSlotsOffset);
}

Result<ConnectionTable> ConnectionTable::create(size_t capacity) {
  const size_t size = kSlotsOffset + capacity * sizeof(Slot);
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return Error::from_errno("cannot map the connection table");
  ConnectionTable table{SharedMapping(base, size)};
  Header* h = table.header();
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&h->mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  h->capacity = capacity;
  h->active = 0;
  return table;
}

Admission ConnectionTable::admit(pid_t pid, const IpKey& address, size_t max_total,
                                 size_t max_per_address) {
  Guard guard(&header()->mutex);
  Header* h = header();
  if (h->active >= max_total || h->active >= h->capacity) return Admission::kTooManyConnections;
  Slot* free_slot = nullptr;
  size_t same_address = 0;
  for (size_t i = 0; i < h->capacity; ++i) {
    Slot& s = slots()[i];
    if (s.pid == 0) {
      if (free_slot == nullptr) free_slot = &s;
      continue;
    }
    if (s.address == address) ++same_address;
  }
  if (max_per_address > 0 && same_address >= max_per_address) {
    return Admission::kTooManyFromAddress;
  }
  if (free_slot == nullptr) return Admission::kTooManyConnections;
  free_slot->pid = pid;
  free_slot->address = address;
  ++h->active;
  return Admission::kAdmitted;
}

void ConnectionTable::release(pid_t pid) {
  Guard guard(&header()->mutex);
  Header* h = header();
  for (size_t i = 0; i < h->capacity; ++i) {
    Slot& s = slots()[i];
    if (s.pid == pid) {
      s = Slot{};
      if (h->active > 0) --h->active;
    }
  }
}

size_t ConnectionTable::active() {
  Guard guard(&header()->mutex);
  return header()->active;
}

}  // namespace pop3d
