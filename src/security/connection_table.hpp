// ConnectionTable: the sessions in progress across every worker, in shared
// memory, so that pop3.max_connections (both ports together) and
// general.max_connections_per_ip hold for the whole pool. A worker claims
// a slot when it accepts and frees it when the session ends; the master
// frees the slots of a worker that died.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <cstddef>

#include "security/ip_list.hpp"
#include "util/result.hpp"
#include "util/shared_mapping.hpp"

namespace pop3d {

enum class Admission { kAdmitted, kTooManyConnections, kTooManyFromAddress };

class ConnectionTable {
 public:
  // `capacity` bounds the slots (the largest pool a reload may ask for).
  static Result<ConnectionTable> create(size_t capacity);

  // Claims a slot for a session of `pid` from `address` unless that would
  // pass `max_total` sessions, or `max_per_address` (0: no limit) from it.
  Admission admit(pid_t pid, const IpKey& address, size_t max_total, size_t max_per_address);
  // Frees the slot of `pid` (its session ended, or it died).
  void release(pid_t pid);
  size_t active();

 private:
  struct Header;
  struct Slot;
  explicit ConnectionTable(SharedMapping m) : mapping_(std::move(m)) {}
  Header* header() const;
  Slot* slots() const;
  SharedMapping mapping_;
};

// Frees the worker's slot when its session is over, however it ends.
class ConnectionSlot {
 public:
  ConnectionSlot(ConnectionTable* table, pid_t pid) : table_(table), pid_(pid) {}
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() {
    if (table_ != nullptr) table_->release(pid_);
  }

 private:
  ConnectionTable* table_;
  pid_t pid_;
};

}  // namespace pop3d
