#include "security/anti_hammer_table.hpp"

#include <arpa/inet.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>

#include "util/robust_mutex.hpp"

namespace pop3d {

struct AntiHammerTable::Header {
  uint64_t magic;
  uint64_t version;
  uint64_t slots;
  uint64_t pressure;
  // For `pop3d --show-blocked` / `--unblock` alone, which must find the
  // running daemon's slots; the daemon's processes keep their own copy.
  SipHashKey hash_key;
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

constexpr char kWhat[] = "the anti-hammering table";

constexpr uint64_t kMagic = 0x706f70336468616dULL;  // "pop3dham"
// 2: the hash is keyed, and the key is in the header.
constexpr uint64_t kVersion = 2;
// The header gets a page of its own; entries follow it.
constexpr size_t kHeaderSize = 4096;
// Slots an address may occupy, starting at its hash: short enough that each
// operation is a handful of comparisons, long enough that collisions rarely
// force an eviction before the table is really full.
constexpr size_t kRunLength = 16;

static_assert(sizeof(AntiHammerTable::Header) <= kHeaderSize);

// Slots whose mapping size still fits in a size_t.
constexpr size_t kMaxSlots = (SIZE_MAX - kHeaderSize) / sizeof(AntiHammerTable::Entry);

size_t mapping_size(size_t slots) {
  return kHeaderSize + slots * sizeof(AntiHammerTable::Entry);
}

Error bad_slot_count(size_t slots) {
  return Error{"the anti-hammering table cannot have " + std::to_string(slots) + " slots"};
}

bool is_v4(const IpKey& k) {
  static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(k.data(), prefix, 12) == 0;
}

bool blocked_now(const AntiHammerTable::Entry& e, int64_t now) {
  return e.used && e.blocked_until > now;
}

// An entry still counts while it is blocked or its last failure is fresh.
// Written so that no value a worker leaves in last_failure can overflow.
bool live(const AntiHammerTable::Entry& e, const AntiHammerPolicy& p, int64_t now) {
  return e.used && (blocked_now(e, now) || e.last_failure > now - p.failure_timeout);
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

// Both parts come from this process's own slot count and mapping size,
// which every constructor has checked against each other.
AntiHammerTable::Header* AntiHammerTable::header() const {
  return mapping_.array_at<Header>(0, 1);
}

AntiHammerTable::Entry* AntiHammerTable::entries() const {
  return mapping_.array_at<Entry>(kHeaderSize, slots_);
}

size_t AntiHammerTable::slots() const {
  return slots_;
}

Result<AntiHammerTable> AntiHammerTable::initialize(SharedMapping mapping, size_t slots) {
  SipHashKey key{};
  if (!random_siphash_key(&key)) {
    return Error::from_errno("cannot draw the anti-hammering table's hash key");
  }
  AntiHammerTable table{std::move(mapping), slots, key};
  Header* h = table.header();  // the mapping is new: all zero
  h->magic = kMagic;
  h->version = kVersion;
  h->slots = slots;
  h->hash_key = key;
  init_robust_mutex(&h->mutex);
  return table;
}

Result<AntiHammerTable> AntiHammerTable::create_anonymous(size_t slots) {
  if (slots == 0 || slots > kMaxSlots) return bad_slot_count(slots);
  const size_t size = mapping_size(slots);
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return Error::from_errno("cannot map the anti-hammering table");
  return initialize(SharedMapping(base, size), slots);
}

Result<AntiHammerTable> AntiHammerTable::create(const std::string& path, size_t slots,
                                                std::optional<Owner> owner) {
  if (slots == 0 || slots > kMaxSlots) return bad_slot_count(slots);
  auto mapping = create_table_file(path, mapping_size(slots), owner, kWhat);
  if (!mapping) return mapping.error();
  return initialize(std::move(*mapping), slots);
}

Result<AntiHammerTable> AntiHammerTable::open(const std::string& path) {
  // The slot count comes from the file's size; the header's own figure
  // must agree with it, and is never used to index.
  auto opened = open_table_file(path, kHeaderSize, sizeof(Entry), kWhat);
  if (!opened) return opened.error();
  SharedMapping mapping = std::move(*opened);
  const size_t slots = (mapping.size() - kHeaderSize) / sizeof(Entry);
  const Header* h = mapping.array_at<Header>(0, 1);
  if (h->magic != kMagic || h->version != kVersion || h->slots != slots) {
    return Error{"the anti-hammering table " + path + " is not one this pop3d understands"};
  }
  const SipHashKey key = h->hash_key;
  return AntiHammerTable{std::move(mapping), slots, key};
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

size_t AntiHammerTable::run_start(const IpKey& key) const {
  return static_cast<size_t>(siphash24(key_, key.data(), key.size()) % slots_);
}

size_t AntiHammerTable::run_start_for_test(const IpKey& address, int ipv6_prefix) const {
  return run_start(key_for(address, ipv6_prefix));
}

AntiHammerTable::Entry* AntiHammerTable::find(const IpKey& key) {
  const size_t n = slots_;
  const size_t start = run_start(key);
  for (size_t i = 0; i < std::min(kRunLength, n); ++i) {
    Entry& e = entries()[(start + i) % n];
    if (e.used && e.key == key) return &e;
  }
  return nullptr;
}

AntiHammerTable::Entry* AntiHammerTable::claim(const IpKey& key, const AntiHammerPolicy& policy,
                                               int64_t now) {
  const size_t n = slots_;
  const size_t start = run_start(key);
  Entry* oldest = nullptr;  // not blocked, longest without a failure
  Entry* ending = nullptr;  // the block nearest its end
  for (size_t i = 0; i < std::min(kRunLength, n); ++i) {
    Entry& e = entries()[(start + i) % n];
    if (!live(e, policy, now)) return &e;
    if (!blocked_now(e, now)) {
      if (oldest == nullptr || e.last_failure < oldest->last_failure) oldest = &e;
    } else if (ending == nullptr || e.blocked_until < ending->blocked_until) {
      ending = &e;
    }
  }
  ++header()->pressure;
  // Giving up a block lifts it early; leaving the new failure uncounted
  // would let this address guess without limit while the run stays full.
  return oldest != nullptr ? oldest : ending;
}

bool AntiHammerTable::record_failure(const IpKey& address, const AntiHammerPolicy& policy,
                                     int64_t now) {
  const IpKey key = key_for(address, policy.ipv6_prefix);
  RobustLock guard(&header()->mutex);
  Entry* e = find(key);
  if (e != nullptr && !live(*e, policy, now)) e->failures = 0;  // forgotten
  if (e == nullptr) {
    e = claim(key, policy, now);  // never null: the table has a slot
    *e = Entry{key, 1, 0, 0, 0};
  }
  if (e->failures < INT32_MAX) ++e->failures;  // a worker may have left any count
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
  for (size_t i = 0; i < slots_; ++i) {
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
