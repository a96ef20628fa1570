#include "security/anti_hammer_table.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string_view>

#include "util/robust_mutex.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

struct AntiHammerTable::Header {
  uint64_t magic;
  uint64_t version;
  uint64_t slots;
  uint64_t pressure;
  pthread_mutex_t mutex;
};

struct AntiHammerTable::Entry {
  IpKey key;
  uint8_t used;
  int32_t failures;
  int64_t last_failure;
  int64_t blocked_until;
};

namespace {

constexpr uint64_t kMagic = 0x706f70336468616dULL;  // "pop3dham"
constexpr uint64_t kVersion = 1;
// The header gets a page of its own; entries follow it.
constexpr size_t kHeaderSize = 4096;
// Slots an address may occupy, starting at its hash: short enough that each
// operation is a handful of comparisons, long enough that collisions rarely
// force an eviction before the table is really full.
constexpr size_t kRunLength = 16;

static_assert(sizeof(AntiHammerTable::Header) <= kHeaderSize);

size_t mapping_size(size_t slots) {
  return kHeaderSize + slots * sizeof(AntiHammerTable::Entry);
}

bool is_v4(const IpKey& k) {
  static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(k.data(), prefix, 12) == 0;
}

bool blocked_now(const AntiHammerTable::Entry& e, int64_t now) {
  return e.used && e.blocked_until > now;
}

// An entry still counts while it is blocked or its last failure is fresh.
bool live(const AntiHammerTable::Entry& e, const AntiHammerPolicy& p, int64_t now) {
  return e.used && (blocked_now(e, now) || now - e.last_failure < p.failure_timeout);
}

std::string describe(const IpKey& key, int ipv6_prefix) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (is_v4(key)) {
    ::inet_ntop(AF_INET, key.data() + 12, buf, sizeof buf);
    return buf;
  }
  ::inet_ntop(AF_INET6, key.data(), buf, sizeof buf);
  return ipv6_prefix < 128 ? std::string(buf) + "/" + std::to_string(ipv6_prefix) : buf;
}

}  // namespace

AntiHammerTable::Header* AntiHammerTable::header() const {
  return static_cast<Header*>(mapping_.get());
}

AntiHammerTable::Entry* AntiHammerTable::entries() const {
  return reinterpret_cast<Entry*>(static_cast<char*>(mapping_.get()) + kHeaderSize);
}

size_t AntiHammerTable::slots() const {
  return header()->slots;
}

Result<AntiHammerTable> AntiHammerTable::create_anonymous(size_t slots) {
  const size_t size = mapping_size(slots);
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return Error::from_errno("cannot map the anti-hammering table");
  AntiHammerTable table{SharedMapping(base, size)};
  Header* h = table.header();
  h->magic = kMagic;
  h->version = kVersion;
  h->slots = slots;
  init_robust_mutex(&h->mutex);
  return table;
}

Result<AntiHammerTable> AntiHammerTable::create(const std::string& path, size_t slots) {
  ::unlink(path.c_str());
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Error::from_errno("cannot create the anti-hammering table " + path);
  const size_t size = mapping_size(slots);
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) < 0) {
    return Error::from_errno("cannot size the anti-hammering table " + path);
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return Error::from_errno("cannot map the anti-hammering table " + path);
  AntiHammerTable table{SharedMapping(base, size)};
  Header* h = table.header();  // the file is new: all zero
  h->magic = kMagic;
  h->version = kVersion;
  h->slots = slots;
  init_robust_mutex(&h->mutex);
  return table;
}

Result<AntiHammerTable> AntiHammerTable::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    return Error::from_errno("cannot open the anti-hammering table " + path +
                             " (is pop3d running, and are you root or its user?)");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) < 0 || st.st_size < static_cast<off_t>(kHeaderSize)) {
    return Error{"the anti-hammering table " + path + " is not one pop3d made"};
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return Error::from_errno("cannot map " + path);
  AntiHammerTable table{SharedMapping(base, size)};
  const Header* h = table.header();
  if (h->magic != kMagic || h->version != kVersion || h->slots == 0 ||
      mapping_size(h->slots) != size) {
    return Error{"the anti-hammering table " + path + " is not one this pop3d understands"};
  }
  return table;
}

int64_t AntiHammerTable::now() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

IpKey AntiHammerTable::key_for(const IpKey& address, int ipv6_prefix) {
  if (is_v4(address)) return address;
  IpKey key = address;
  for (int bit = std::clamp(ipv6_prefix, 0, 128); bit < 128; ++bit) {
    key[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  return key;
}

AntiHammerTable::Entry* AntiHammerTable::find(const IpKey& key) {
  const size_t n = slots();
  const std::string_view bytes(reinterpret_cast<const char*>(key.data()), key.size());
  const size_t start = std::hash<std::string_view>{}(bytes) % n;
  for (size_t i = 0; i < std::min(kRunLength, n); ++i) {
    Entry& e = entries()[(start + i) % n];
    if (e.used && e.key == key) return &e;
  }
  return nullptr;
}

AntiHammerTable::Entry* AntiHammerTable::claim(const IpKey& key, const AntiHammerPolicy& policy,
                                               int64_t now) {
  const size_t n = slots();
  const std::string_view bytes(reinterpret_cast<const char*>(key.data()), key.size());
  const size_t start = std::hash<std::string_view>{}(bytes) % n;
  Entry* oldest = nullptr;
  for (size_t i = 0; i < std::min(kRunLength, n); ++i) {
    Entry& e = entries()[(start + i) % n];
    if (!live(e, policy, now)) return &e;
    if (!blocked_now(e, now) && (oldest == nullptr || e.last_failure < oldest->last_failure)) {
      oldest = &e;
    }
  }
  ++header()->pressure;
  return oldest;
}

bool AntiHammerTable::record_failure(const IpKey& address, const AntiHammerPolicy& policy,
                                     int64_t now) {
  const IpKey key = key_for(address, policy.ipv6_prefix);
  RobustLock guard(&header()->mutex);
  Entry* e = find(key);
  if (e != nullptr && !live(*e, policy, now)) e->failures = 0;  // forgotten
  if (e == nullptr) {
    e = claim(key, policy, now);
    if (e == nullptr) return false;  // every slot of the run holds a live block
    *e = Entry{key, 1, 0, 0, 0};
  }
  ++e->failures;
  e->last_failure = now;
  if (e->failures >= policy.max_failures && e->blocked_until <= now) {
    e->blocked_until = now + policy.block_time;
    return true;
  }
  return blocked_now(*e, now);
}

bool AntiHammerTable::is_blocked(const IpKey& address, const AntiHammerPolicy& policy,
                                 int64_t now) {
  const IpKey key = key_for(address, policy.ipv6_prefix);
  RobustLock guard(&header()->mutex);
  const Entry* e = find(key);
  return e != nullptr && blocked_now(*e, now);
}

bool AntiHammerTable::unblock(const IpKey& address, const AntiHammerPolicy& policy) {
  const IpKey key = key_for(address, policy.ipv6_prefix);
  RobustLock guard(&header()->mutex);
  Entry* e = find(key);
  if (e == nullptr) return false;
  const bool was_blocked = e->blocked_until > now();
  *e = Entry{};
  return was_blocked;
}

std::vector<BlockedAddress> AntiHammerTable::blocked(const AntiHammerPolicy& policy, int64_t now) {
  std::vector<BlockedAddress> out;
  RobustLock guard(&header()->mutex);
  for (size_t i = 0; i < slots(); ++i) {
    const Entry& e = entries()[i];
    if (!blocked_now(e, now)) continue;
    out.push_back({describe(e.key, policy.ipv6_prefix), e.blocked_until - now, e.failures});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.seconds_left > b.seconds_left; });
  return out;
}

uint64_t AntiHammerTable::pressure_events() {
  RobustLock guard(&header()->mutex);
  return header()->pressure;
}

void AntiHammerTable::lock_and_abandon_for_test() {
  pthread_mutex_lock(&header()->mutex);
}

}  // namespace pop3d
