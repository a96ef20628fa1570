// ConnectionCounts: who counts a worker's sessions for
// general.max_connections_per_ip, whichever back-end does it: this node's
// ConnectionTable alone (LocalConnectionCounts) or Redis for a whole
// cluster (RedisConnectionCounts). The worker sees only this interface.
//
// The node's ConnectionTable always holds every session of the node (it
// enforces pop3.max_connections), so it can count an address on its own
// at any time: a back-end that cannot answer says so (kCountHere) and the
// worker applies the limit there, as it does without Redis.
//
// A worker serves one session at a time, so one object holds at most one
// counted session.
#pragma once

#include <cstddef>

#include "security/ip_list.hpp"

namespace pop3d {

enum class CountVerdict {
  kAdmitted,            // counted cluster-wide: the node need not count the address
  kTooManyFromAddress,  // the address has general.max_connections_per_ip already
  kCountHere,           // not counted (local back-end, Redis not answering, no limit)
};

class ConnectionCounts {
 public:
  virtual ~ConnectionCounts() = default;

  // One more session from `address` unless it has `max_per_address`
  // (0: no limit) already. Never fails, and never waits longer than the
  // back-end's time-out.
  virtual CountVerdict admit(const IpKey& address, size_t max_per_address) = 0;
  // The session admit() counted is over (nothing when none was counted).
  virtual void end_session() = 0;
};

// The node alone: its ConnectionTable counts every address.
class LocalConnectionCounts : public ConnectionCounts {
 public:
  CountVerdict admit(const IpKey&, size_t) override { return CountVerdict::kCountHere; }
  void end_session() override {}
};

// Ends the counted session however the session ends, as ConnectionSlot
// frees the node's slot.
class CountedSession {
 public:
  explicit CountedSession(ConnectionCounts* counts) : counts_(counts) {}
  CountedSession(const CountedSession&) = delete;
  CountedSession& operator=(const CountedSession&) = delete;
  ~CountedSession() { end(); }
  // Now, before the session's summary line: a client that saw the line
  // finds the address's count down already, on every node.
  void end() {
    if (counts_ != nullptr) counts_->end_session();
    counts_ = nullptr;
  }

 private:
  ConnectionCounts* counts_;
};

}  // namespace pop3d
