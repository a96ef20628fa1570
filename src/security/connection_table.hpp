// ConnectionTable: the sessions in progress across every worker, in shared
// memory, so that pop3.max_connections (both ports together) and
// general.max_connections_per_ip hold for the whole pool. A worker claims
// a slot when it accepts and frees it when the session ends; the master
// frees the slots of a worker that died.
//
// Any worker can write the shared bytes, so the slot count is the one this
// process's own object was made with, and the number of sessions is counted
// from the slots, never read from a field a worker could set. The master
// never waits for the lock: a subverted worker could hold it forever.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <cstddef>
#include <vector>

#include "security/ip_list.hpp"
#include "util/result.hpp"
#include "util/shared_mapping.hpp"

namespace pop3d {

enum class Admission { kAdmitted, kTooManyConnections, kTooManyFromAddress };

// How a master-side call went: done, or put off because another process
// holds the lock (the call is remembered and retried).
enum class TableAccess { kDone, kBusy };

class ConnectionTable {
 public:
  // `capacity` bounds the slots (the largest pool a reload may ask for).
  static Result<ConnectionTable> create(size_t capacity);

  // Claims a slot for a session of `pid` from `address` unless that would
  // pass `max_total` sessions, or `max_per_address` (0: no limit) from it.
  // IPv6 addresses are counted per network of `ipv6_prefix` bits, as
  // anti-hammering counts them: one host holds a whole /64 and picks a new
  // address from it for each connection.
  Admission admit(pid_t pid, const IpKey& address, size_t max_total, size_t max_per_address,
                  int ipv6_prefix = 64);
  // For the master: frees the slot of `pid`, a worker that died. Never
  // waits for the lock; when it is busy, the pid is kept in this process's
  // memory and freed by the next release() or retry_releases().
  TableAccess release(pid_t pid);
  TableAccess retry_releases();
  // For a worker: frees its own slot at the end of its session, waiting for
  // the lock as long as it takes.
  void end_session(pid_t pid);
  size_t active();

  // For the tests that play a subverted worker: the shared bytes.
  void* mapping_for_test() const { return mapping_.get(); }
  size_t mapping_size_for_test() const { return mapping_.size(); }

 private:
  struct Header;
  struct Slot;
  ConnectionTable(SharedMapping m, size_t capacity) : mapping_(std::move(m)), capacity_(capacity) {}
  Header* header() const;
  Slot* slots() const;
  // Frees the slots of the pids in pending_ (the lock is held).
  void free_pending();
  SharedMapping mapping_;
  size_t capacity_ = 0;
  // Dead workers whose slots wait for the lock (master only).
  std::vector<pid_t> pending_;
  // Set when pending_ overflowed: free every slot whose process is gone.
  bool sweep_ = false;
};

// Frees the worker's slot when its session is over, however it ends.
class ConnectionSlot {
 public:
  ConnectionSlot(ConnectionTable* table, pid_t pid) : table_(table), pid_(pid) {}
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() {
    if (table_ != nullptr) table_->end_session(pid_);
  }

 private:
  ConnectionTable* table_;
  pid_t pid_;
};

}  // namespace pop3d
