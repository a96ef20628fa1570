#include "sharedstate/redis_connection_counts.hpp"

#include <unistd.h>

#include "security/anti_hammer_table.hpp"
#include "sharedstate/redis_script.hpp"
#include "util/hex.hpp"

namespace pop3d {

namespace {

// Redis 7 replicates a script's effects by default; older ones must be
// told to before a script that reads TIME may write. `now` is Redis's
// clock in milliseconds, the same for every node.
#define POP3D_LUA_PROLOGUE                                                 \
  "if redis.replicate_commands then pcall(redis.replicate_commands) end\n" \
  "local t = redis.call('TIME')\n"                                         \
  "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

// KEYS[1]; ARGV: member, lease (ms), limit. 1: admitted, 0: the address
// has `limit` sessions whose leases still run.
constexpr char kAdmit[] = POP3D_LUA_PROLOGUE R"lua(
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
)lua";

// KEYS[1]; ARGV: member, lease (ms). Puts the member back if it was lost
// (Redis restarted, or this node could not renew for a whole lease): the
// session is still there and counts.
constexpr char kRenew[] = POP3D_LUA_PROLOGUE R"lua(
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
)lua";

#undef POP3D_LUA_PROLOGUE

}  // namespace

RedisConnectionCounts::RedisConnectionCounts(std::shared_ptr<RedisLink> link,
                                             std::shared_ptr<LeaseKeeper> keeper,
                                             std::string key_prefix, int ipv6_prefix,
                                             std::chrono::milliseconds lease, std::string node)
    : link_(std::move(link)),
      keeper_(std::move(keeper)),
      prefix_(std::move(key_prefix)),
      ipv6_prefix_(ipv6_prefix),
      lease_(lease),
      node_(std::move(node)) {}

std::string RedisConnectionCounts::key_of(const IpKey& address) const {
  const IpKey key = AntiHammerTable::key_for(address, ipv6_prefix_);
  return prefix_ + "conn:" + hex_lower({reinterpret_cast<const char*>(key.data()), key.size()});
}

CountVerdict RedisConnectionCounts::admit(const IpKey& address, size_t max_per_address) {
  end_session();  // one session at a time: a left-over is over
  // No limit: nothing to count, and no round trip for it.
  if (max_per_address == 0) return CountVerdict::kCountHere;
  Held held{key_of(address), node_ + ":" + std::to_string(::getpid()) + ":" + session_token()};
  const std::string lease = std::to_string(lease_.count());
  auto r = link_->command(
      eval_command(kAdmit, held.key, {held.member, lease, std::to_string(max_per_address)}));
  const bool answered = r && r->kind == RedisValue::Kind::kInteger;
  if (answered && r->integer != 1) return CountVerdict::kTooManyFromAddress;
  // Kept even when Redis did not answer and the node counts alone: the
  // keeper's renewal puts the session into Redis once it is back, so the
  // other nodes count it from then on.
  keeper_->keep(LeaseKeeper::Slot::kConnection,
                eval_command(kRenew, held.key, {held.member, lease}));
  held_ = std::move(held);
  return answered ? CountVerdict::kAdmitted : CountVerdict::kCountHere;
}

void RedisConnectionCounts::end_session() {
  if (!held_) return;
  keeper_->forget(LeaseKeeper::Slot::kConnection);
  // When Redis does not hear it, the member goes with its lease.
  (void)link_->command({"ZREM", held_->key, held_->member});
  held_.reset();
}

}  // namespace pop3d
