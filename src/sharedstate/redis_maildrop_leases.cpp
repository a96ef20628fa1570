#include "sharedstate/redis_maildrop_leases.hpp"

#include <unistd.h>

#include "sharedstate/redis_script.hpp"

namespace pop3d {

namespace {

// KEYS[1]; ARGV: value, lease (ms). 1: taken; otherwise the holder's
// value. (SET NX GET would do it too, but only from Redis 7.0 on.)
constexpr char kAcquire[] = R"lua(
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua";

// KEYS[1]; ARGV: value, lease (ms). 1: ours (kept, or taken back after it
// expired: Redis restarted, or this node could not renew for a whole
// lease); 0: another session's.
constexpr char kRenew[] = R"lua(
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if v then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua";

// KEYS[1]; ARGV: value. Removes the lease only while it is ours.
constexpr char kRelease[] = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

}  // namespace

RedisMaildropLeases::RedisMaildropLeases(std::shared_ptr<RedisLink> link,
                                         std::shared_ptr<LeaseKeeper> keeper,
                                         std::string key_prefix, std::chrono::milliseconds lease,
                                         std::string node)
    : link_(std::move(link)),
      keeper_(std::move(keeper)),
      prefix_(std::move(key_prefix)),
      lease_(lease),
      node_(std::move(node)) {}

LeaseVerdict RedisMaildropLeases::acquire(const std::string& maildrop, std::string& holder) {
  release();  // one session at a time: a left-over is over
  Held held{key_of(maildrop), node_ + ":" + std::to_string(::getpid()) + ":" + session_token()};
  const std::string lease = std::to_string(lease_.count());
  // Whether it was taken, and by whom if not, in one round trip.
  auto r = link_->command(eval_command(kAcquire, held.key, {held.value, lease}));
  if (r && r->kind == RedisValue::Kind::kString) {
    holder = r->str;
    return LeaseVerdict::kBusy;
  }
  const bool taken = r && r->kind == RedisValue::Kind::kInteger && r->integer == 1;
  // Kept even when Redis did not answer: the renewal takes the lease once
  // it is back, so that other nodes see this session from then on.
  keeper_->keep(LeaseKeeper::Slot::kMaildrop, eval_command(kRenew, held.key, {held.value, lease}));
  held_ = std::move(held);
  return taken ? LeaseVerdict::kHeld : LeaseVerdict::kUnchecked;
}

bool RedisMaildropLeases::still_ours() {
  if (!held_) return true;
  auto r = link_->command({"GET", held_->key});
  if (!r) return true;  // Redis cannot say: the file lock decides
  return r->kind != RedisValue::Kind::kString || r->str == held_->value;
}

void RedisMaildropLeases::release() {
  if (!held_) return;
  keeper_->forget(LeaseKeeper::Slot::kMaildrop);
  // When Redis does not hear it, the lease goes when it runs out.
  (void)link_->command(eval_command(kRelease, held_->key, {held_->value}));
  held_.reset();
}

}  // namespace pop3d
