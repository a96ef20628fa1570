#include "security/connection_table.hpp"

#include <sys/mman.h>

#include <cerrno>

#include "util/robust_mutex.hpp"

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
  init_robust_mutex(&h->mutex);
  h->capacity = capacity;
  h->active = 0;
  return table;
}

Admission ConnectionTable::admit(pid_t pid, const IpKey& address, size_t max_total,
                                 size_t max_per_address) {
  RobustLock guard(&header()->mutex);
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
  RobustLock guard(&header()->mutex);
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
  RobustLock guard(&header()->mutex);
  return header()->active;
}

}  // namespace pop3d
