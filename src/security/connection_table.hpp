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
//
// A slow crowd (connections that never finish a line) must not fill every
// slot and lock everyone out until it times out: when the table is full, a
// newcomer takes the slot of a session that has not logged in
// (admit_or_evict). The table only records who yields to whom; telling the
// victim (a signal) is the worker's business, and the victim hands its slot
// over itself (yield_if_asked) unless it has logged in meanwhile.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <cstddef>
#include <vector>

#include "security/ip_list.hpp"
#include "util/result.hpp"
#include "util/shared_mapping.hpp"

namespace pop3d {

enum class Admission {
  kAdmitted,
  kTooManyConnections,
  kTooManyFromAddress,
  // The table was full: the newcomer waits in a not-logged-in session's
  // slot for that session to yield it (see handover_state()).
  kEvicting,
};

struct AdmitResult {
  Admission admission = Admission::kTooManyConnections;
  pid_t victim = 0;  // kEvicting: the worker to tell to yield
  size_t slot = 0;   // kEvicting: the slot to wait for
};

// How a newcomer's wait for a victim's slot stands.
enum class Handover {
  kPending,  // the victim has not looked yet
  kDone,     // the slot is the newcomer's: serve the client
  kRefused,  // the victim logged in (or the slot went elsewhere): ask again
};

// What a session asked to yield did.
enum class Yield { kStay, kYielded };

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
  // Never evicts anyone (for callers that cannot tell a victim to yield).
  Admission admit(pid_t pid, const IpKey& address, size_t max_total, size_t max_per_address,
                  int ipv6_prefix = 64);
  // As admit(), but when the table is full and some sessions have not
  // logged in, picks one of them to yield: among the addresses (as
  // counted) of such sessions, the one holding the most sessions; from it,
  // the session admitted first (`now`, on the CLOCK_MONOTONIC of now_ns(),
  // is when this one is admitted). Sessions in `spare` are not picked: they
  // were asked before and did not answer. The per-address limit refuses as
  // admit() does, eviction or not.
  AdmitResult admit_or_evict(pid_t pid, const IpKey& address, size_t max_total,
                             size_t max_per_address, int ipv6_prefix, int64_t now,
                             const std::vector<pid_t>& spare = {});
  // For the newcomer after kEvicting: whether the victim has yielded.
  Handover handover_state(pid_t pid, size_t slot);
  // For a newcomer that stops waiting: withdraws its claim, unless the
  // handover happened meanwhile (then kDone and the slot is its own).
  Handover cancel_handover(pid_t pid, size_t slot);
  // For a session told to yield: hands its slot to the newcomer waiting in
  // it, unless it has logged in (then the newcomer is refused and asks
  // again). kStay too when nobody waits for its slot.
  Yield yield_if_asked(pid_t pid);
  // For a worker whose client has logged in: its session can no longer be
  // evicted; a newcomer already waiting for its slot is refused.
  void mark_logged_in(pid_t pid);
  // CLOCK_MONOTONIC in nanoseconds: system-wide, so comparable between
  // workers.
  static int64_t now_ns();
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
  // The slot's session ended: the newcomer waiting in it takes it, or it
  // is free (the lock is held).
  static void vacate(Slot& s);
  Admission place(pid_t pid, const IpKey& address, size_t max_total, size_t max_per_address,
                  int64_t now, bool may_evict, const std::vector<pid_t>& spare, size_t* victim);
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
  ~ConnectionSlot() { end(); }
  // Frees the slot now (before the session's summary line, so that a
  // client that saw the line finds the slot free).
  void end() {
    if (table_ != nullptr) table_->end_session(pid_);
    table_ = nullptr;
  }

 private:
  ConnectionTable* table_;
  pid_t pid_;
};

}  // namespace pop3d
