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
//
// The table also says who is logged in (`pop3d --who`) and lets the
// administrator end a user's sessions (`pop3d --kick`): the daemon keeps it
// in a file next to its pid file, which those commands map. They read it
// as untrusted bytes, since any worker could have written them.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "security/ip_list.hpp"
#include "util/result.hpp"
#include "util/shared_mapping.hpp"
#include "util/table_file.hpp"

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

// One session as `pop3d --who` shows it, copied out of the shared bytes and
// bounded: `user` has at most kMaxUser bytes and no NUL, but may hold any
// other byte (escape it before printing).
struct SessionInfo {
  pid_t pid = 0;
  std::string user;        // empty until the client has logged in
  IpKey client{};          // the client's own address (not cut to a prefix)
  bool logged_in = false;  // TRANSACTION state; else AUTHORIZATION
  int64_t since = 0;       // admission, in seconds since the epoch
  uint64_t octets_sent = 0;
};

// How a master-side call went: done, or put off because another process
// holds the lock (the call is remembered and retried).
enum class TableAccess { kDone, kBusy };

class ConnectionTable {
 public:
  // Longest user name a slot keeps (pop3_limits::kMaxUserName: longer
  // ones never log in).
  static constexpr size_t kMaxUser = 128;
  static constexpr size_t kNoSlot = SIZE_MAX;

  // `capacity` bounds the slots (the largest pool a reload may ask for).
  // In anonymous shared memory: the daemon's own processes only (tests).
  static Result<ConnectionTable> create(size_t capacity);
  // The same, in a file at `path` (re-created, mode 0600, handed to
  // `owner` through its descriptor), so that `pop3d --who` finds it.
  using Owner = FileOwner;
  static Result<ConnectionTable> create(const std::string& path, size_t capacity,
                                        std::optional<Owner> owner = std::nullopt);
  // Maps a running daemon's table (for --who / --kick). The slot count
  // comes from the file's size and must agree with the header.
  static Result<ConnectionTable> open(const std::string& path);

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
  // For a worker whose client has logged in as `user`: its session can no
  // longer be evicted; a newcomer already waiting for its slot is refused.
  // `user` is recorded for --who (cut to kMaxUser bytes).
  void mark_logged_in(pid_t pid, std::string_view user = {});
  // For a worker: the slot its session holds (kNoSlot: none). It stays the
  // session's until the session ends or yields it.
  size_t slot_of(pid_t pid);
  // For the worker holding `slot`: the octets its session has sent so far.
  // A relaxed store without the lock: only that worker writes the figure,
  // and readers only show it.
  void record_octets_sent(size_t slot, uint64_t total);
  // For a worker woken by the eviction signal: whether the administrator
  // asked its session to end (request_kick).
  bool kick_requested(pid_t pid);

  // For the administrator's commands, which must not hang on a worker that
  // holds the lock: each waits at most `wait` for it and fails after.
  // The sessions in progress.
  Result<std::vector<SessionInfo>> snapshot(std::chrono::milliseconds wait);
  // Marks every logged-in session of `user` to end, and returns their
  // workers' pids (never <= 1), to be sent kEvictionSignal.
  Result<std::vector<pid_t>> request_kick(std::string_view user, std::chrono::milliseconds wait);

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
  // For the master's status line: the slots in use, read without the lock
  // (the master never waits for it), so a moment's figure, at most the
  // capacity whatever a worker wrote.
  size_t active_estimate() const;

  // For the tests that play a subverted worker: the shared bytes.
  void* mapping_for_test() const { return mapping_.get(); }
  size_t mapping_size_for_test() const { return mapping_.size(); }

 private:
  struct Header;
  struct Slot;
  ConnectionTable(SharedMapping m, size_t capacity) : mapping_(std::move(m)), capacity_(capacity) {}
  Header* header() const;
  Slot* slots() const;
  // Writes the header of a new, all-zero mapping.
  void initialize();
  // The bytes a table of `capacity` slots maps, or an error for a count no
  // table can have.
  static Result<size_t> mapping_size(size_t capacity);
  // Frees the slots of the pids in pending_ (the lock is held).
  void free_pending();
  // The slot's session ended: the newcomer waiting in it takes it, or it
  // is free (the lock is held).
  static void vacate(Slot& s);
  Admission place(pid_t pid, const IpKey& client, const IpKey& address, size_t max_total,
                  size_t max_per_address, int64_t now, bool may_evict,
                  const std::vector<pid_t>& spare, size_t* victim);
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
