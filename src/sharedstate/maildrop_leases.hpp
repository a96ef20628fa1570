// MaildropLeases: one POP3 session per maildrop across a cluster, beside
// the maildrop's own lock (MaildropLock).
//
// The flock() in the maildrop stays the lock that keeps two sessions
// apart, and is never ignored: a node that cannot reach Redis still takes
// it, so no rule of Redis's can let a second session in beside it. A lease
// adds two things in a cluster:
// - a session on another node is refused with [IN-USE] at once, even
//   where the shared file system's locks are slow or missing;
// - a fencing token: a session that lost its lease (its node was cut off
//   for longer than a lease, and another session took the maildrop) does
//   not commit its deletions at QUIT.
// A node that dies stops renewing: its leases expire within one lease, and
// its file locks go as the file system notices (GlusterFS after
// network.ping-timeout; doc/CLUSTER.md says to set it below the lease).
//
// A worker serves one session at a time, so one object holds at most one
// lease.
#pragma once

#include <string>

namespace pop3d {

enum class LeaseVerdict {
  kHeld,       // this session holds the maildrop's lease
  kBusy,       // another live session, on some node, holds it
  kUnchecked,  // no lease (local back-end, or Redis not answering)
};

class MaildropLeases {
 public:
  virtual ~MaildropLeases() = default;

  // Takes the lease on `maildrop` (the user's name, the same on every
  // node) for this session. Never waits longer than the back-end's time-out. On
  // kBusy, `holder` says who holds it, for the log.
  virtual LeaseVerdict acquire(const std::string& maildrop, std::string& holder) = 0;
  // False only when another session is known to hold the lease now: the
  // caller must not commit. True when it is ours, or nobody's, or Redis
  // cannot say (the file lock then decides, as without Redis).
  virtual bool still_ours() = 0;
  // The session is over (nothing when no lease is held).
  virtual void release() = 0;
};

// Without Redis: the file lock alone.
class LocalMaildropLeases : public MaildropLeases {
 public:
  LeaseVerdict acquire(const std::string&, std::string&) override {
    return LeaseVerdict::kUnchecked;
  }
  bool still_ours() override { return true; }
  void release() override {}
};

}  // namespace pop3d
