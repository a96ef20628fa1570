// RedisMaildropLeases: maildrop leases in Redis. Each is one string key,
// <prefix>maildrop:<user name>, holding "node:pid:token" and expiring with the
// lease; taking, renewing and releasing are each one atomic step (SET NX,
// and Lua scripts that act only while the key holds this session's
// value), so a session never renews or removes a lease that has become
// another's.
//
// When Redis does not answer, the session goes on under the file lock
// alone (kUnchecked), and the LeaseKeeper's renewal takes the lease as
// soon as Redis answers again, unless another session has it by then.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "sharedstate/lease_keeper.hpp"
#include "sharedstate/maildrop_leases.hpp"
#include "sharedstate/redis_link.hpp"

namespace pop3d {

class RedisMaildropLeases : public MaildropLeases {
 public:
  RedisMaildropLeases(std::shared_ptr<RedisLink> link, std::shared_ptr<LeaseKeeper> keeper,
                      std::string key_prefix, std::chrono::milliseconds lease, std::string node);
  ~RedisMaildropLeases() override { release(); }

  LeaseVerdict acquire(const std::string& maildrop, std::string& holder) override;
  bool still_ours() override;
  void release() override;

  // The key of a maildrop, and the value of the lease held now (empty when
  // none), for the tests.
  std::string key_of(const std::string& maildrop) const { return prefix_ + "maildrop:" + maildrop; }
  std::string value() const { return held_ ? held_->value : std::string(); }

 private:
  struct Held {
    std::string key;
    std::string value;
  };

  std::shared_ptr<RedisLink> link_;
  std::shared_ptr<LeaseKeeper> keeper_;
  std::string prefix_;
  std::chrono::milliseconds lease_;
  std::string node_;
  std::optional<Held> held_;
};

}  // namespace pop3d
