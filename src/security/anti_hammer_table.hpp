// AntiHammerTable: failed logins per client address, shared by every
// process of pop3d. It lives in a file-backed shared mapping (next to the
// pid file, owned by the service user) that the master creates before it
// forks, so a failure counted by one worker blocks the address in all of
// them at once, and `pop3d --show-blocked` / `--unblock` can open the same
// table of the running daemon without a control protocol.
//
// The table has a fixed number of slots (bounded memory). An address hashes
// to a short run of slots, by SipHash under a key drawn at start, so nobody
// can choose addresses that crowd one run. When the run is full, the entry
// that has gone longest without a failure and is not blocked gives way, so
// spraying addresses cannot lift a block early. Only a run that is all live
// blocks gives up a block, the one nearest its end: a new failure is always
// counted, never dropped for want of a slot.
//
// Every worker can write the mapping, so the table reads nothing from it
// that could take it out of bounds: the slot count and the hash key live in
// each process's own copy of this object, set when the master made the
// table (or, for --show-blocked, checked against the file's size).
//
// A robust process-shared mutex guards it: a worker that dies holding the
// lock does not wedge the others; the next locker repairs the state.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "security/ip_list.hpp"
#include "util/result.hpp"
#include "util/shared_mapping.hpp"
#include "util/siphash.hpp"
#include "util/table_file.hpp"

namespace pop3d {

struct AntiHammerPolicy {
  int max_failures = 5;
  int64_t failure_timeout = 600;  // seconds a failure is remembered
  int64_t block_time = 1800;      // seconds a block lasts
  int ipv6_prefix = 64;           // IPv6 clients are counted per network
};

struct BlockedAddress {
  std::string address;  // the address, or the IPv6 network ("2001:db8::/64")
  int64_t seconds_left = 0;
  int failures = 0;
};

class AntiHammerTable {
 public:
  // Creates (or re-creates) the table file at `path` with `slots` slots,
  // mode 0600, and maps it shared. Called by the master before the fork.
  // With `owner`, the new file is handed to that uid/gid through its own
  // descriptor: the directory belongs to the service user, who could swap
  // the name for a link to a root-owned file before a chown by path.
  using Owner = FileOwner;
  static Result<AntiHammerTable> create(const std::string& path, size_t slots,
                                        std::optional<Owner> owner = std::nullopt);
  // Opens the table of a running daemon (for --show-blocked / --unblock).
  static Result<AntiHammerTable> open(const std::string& path);
  // A table in anonymous shared memory (tests).
  static Result<AntiHammerTable> create_anonymous(size_t slots);

  AntiHammerTable(AntiHammerTable&&) = default;
  AntiHammerTable& operator=(AntiHammerTable&&) = default;

  // The key an address is counted under: IPv4 as is, IPv6 cut to the prefix.
  static IpKey key_for(const IpKey& address, int ipv6_prefix);

  // Records a failed login; true when the address is now blocked.
  bool record_failure(const IpKey& address, const AntiHammerPolicy& policy, int64_t now);
  bool is_blocked(const IpKey& address, const AntiHammerPolicy& policy, int64_t now);
  // Lifts a block (and forgets the failures); false when none was found.
  bool unblock(const IpKey& address, const AntiHammerPolicy& policy);
  std::vector<BlockedAddress> blocked(const AntiHammerPolicy& policy, int64_t now);
  // Times a full run forced an entry out, for logs.
  uint64_t pressure_events();

  size_t slots() const;

  // The monotonic clock in seconds, the one every process shares.
  static int64_t now();

  // For the crash test: takes the lock and never gives it back.
  void lock_and_abandon_for_test();
  // For the tests that play a subverted worker: the shared bytes, and the
  // first slot of the run `address` hashes to.
  void* mapping_for_test() const { return mapping_.get(); }
  size_t mapping_size_for_test() const { return mapping_.size(); }
  size_t run_start_for_test(const IpKey& address, int ipv6_prefix) const;

  // The layout of the mapping (defined in the .cpp file).
  struct Header;
  struct Entry;

 private:
  AntiHammerTable(SharedMapping mapping, size_t slots, const SipHashKey& key)
      : mapping_(std::move(mapping)), slots_(slots), key_(key) {}
  // Makes a table of `slots` slots (already checked against the mapping's
  // size) in a new, all-zero mapping, under a fresh hash key.
  static Result<AntiHammerTable> initialize(SharedMapping mapping, size_t slots);
  Header* header() const;
  Entry* entries() const;
  size_t run_start(const IpKey& key) const;
  // The slot holding `key`, or null.
  Entry* find(const IpKey& key);
  // A slot for a new key: a free or expired one in the key's run, else the
  // unblocked one with the oldest failure, else the block nearest its end.
  Entry* claim(const IpKey& key, const AntiHammerPolicy& policy, int64_t now);

  SharedMapping mapping_;
  size_t slots_ = 0;
  SipHashKey key_{};
};

}  // namespace pop3d
