// RedisConnectionCounts: general.max_connections_per_ip for a cluster.
// Each session is a member of one Redis sorted set per address, scored
// with the moment (Redis's clock, in ms) its lease runs out. One Lua
// script drops the members whose lease ran out (sessions of a node that
// died), compares the count with the limit and adds the newcomer, in one
// atomic step, so two nodes admitting at once cannot both take the last
// place. The LeaseKeeper renews the member while the session lasts, and
// the session's end removes it.
//
// When Redis does not answer within the time-out, the node counts the
// address alone (kCountHere); the worker's link logs the outage once per
// node (LinkHealth). The session is still handed to the keeper, whose
// renewal adds it to Redis once Redis answers again.
//
// Keys: <prefix>conn:<address key as 32 hex digits>, members
// "node:pid:token" (a random token per session), the key expiring with
// its last lease.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "sharedstate/connection_counts.hpp"
#include "sharedstate/lease_keeper.hpp"
#include "sharedstate/redis_link.hpp"

namespace pop3d {

class RedisConnectionCounts : public ConnectionCounts {
 public:
  // `link`: the worker's own (shared with its anti-hammering); `node`
  // names this host in the members, for whoever reads Redis.
  RedisConnectionCounts(std::shared_ptr<RedisLink> link, std::shared_ptr<LeaseKeeper> keeper,
                        std::string key_prefix, int ipv6_prefix, std::chrono::milliseconds lease,
                        std::string node);
  ~RedisConnectionCounts() override { end_session(); }

  CountVerdict admit(const IpKey& address, size_t max_per_address) override;
  void end_session() override;

  // The Redis key of an address, and the member of the session counted
  // now (empty when none), for the tests.
  std::string key_of(const IpKey& address) const;
  std::string member() const { return held_ ? held_->member : std::string(); }
  LeaseKeeper& keeper() { return *keeper_; }

 private:
  struct Held {
    std::string key;
    std::string member;
  };

  std::shared_ptr<RedisLink> link_;
  std::shared_ptr<LeaseKeeper> keeper_;
  std::string prefix_;
  int ipv6_prefix_;
  std::chrono::milliseconds lease_;
  std::string node_;
  std::optional<Held> held_;
};

}  // namespace pop3d
