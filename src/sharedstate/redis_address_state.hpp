// RedisAddressState: anti-hammering for a cluster. Every failure, on any
// node, is counted in one Redis hash per address, by a Lua script that
// reads Redis's own clock (so nodes with skewed clocks agree) and updates
// the count, the block and the expiry in one atomic step.
//
// Each node also counts every failure in its own table. While Redis
// answers, Redis alone decides: an --unblock given on any node must lift
// the block on all of them, and no node's local count may outlive it.
// When Redis does not answer (within the time-out), the node decides from
// its own table, so it keeps protecting itself.
//
// Keys: <prefix>hammer:<address key as 32 hex digits>, a hash of
// failures, last_failure and blocked_until (Redis seconds), which expires
// once it no longer counts.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "sharedstate/address_state.hpp"
#include "sharedstate/redis_link.hpp"

namespace pop3d {

class RedisAddressState : public AddressState {
 public:
  // `local` may be absent (the admin CLI on a host where no daemon runs).
  // `link` may be shared with the worker's other Redis users (its
  // connection counts), all on the worker's one thread.
  RedisAddressState(std::shared_ptr<RedisLink> link, std::string key_prefix,
                    AntiHammerPolicy policy, std::optional<LocalAddressState> local);

  bool is_blocked(const IpKey& address, int64_t now) override;
  bool record_failure(const IpKey& address, int64_t now) override;
  Result<bool> unblock(const IpKey& address) override;
  // Redis's blocks only (an error when Redis does not answer): those are
  // the ones every node enforces.
  Result<std::vector<BlockedAddress>> blocked(int64_t now) override;

  // The Redis key of an address, for tests and for later steps.
  std::string key_of(const IpKey& address) const;

 private:
  Result<RedisValue> eval(const char* script, const std::vector<std::string>& keys,
                          const std::vector<std::string>& args);

  std::shared_ptr<RedisLink> link_;
  std::string prefix_;
  AntiHammerPolicy policy_;
  std::optional<LocalAddressState> local_;
};

}  // namespace pop3d
