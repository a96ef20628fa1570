#include "sharedstate/redis_address_state.hpp"

#include <algorithm>

#include "util/hex.hpp"

namespace pop3d {

namespace {

// --show-blocked looks at this many keys at most, in SCAN steps of this
// size, so a huge keyspace cannot make it run without end.
constexpr size_t kMaxListedKeys = 10000;
constexpr int kScanCount = 500;

// Redis 7 replicates a script's effects by default; older ones must be
// told to before a script that reads TIME may write.
#define POP3D_LUA_PROLOGUE                                                 \
  "if redis.replicate_commands then pcall(redis.replicate_commands) end\n" \
  "local now = tonumber(redis.call('TIME')[1])\n"

// KEYS[1]; ARGV: max_failures, failure_timeout, block_time (seconds).
// Failures are forgotten failure_timeout after the last one unless a block
// runs, as in the local table. Returns {started a block (0/1), failures}.
constexpr char kRecordFailure[] = POP3D_LUA_PROLOGUE R"lua(
local maxf = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local block = tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 'failures', 'last_failure', 'blocked_until')
local failures = tonumber(v[1]) or 0
local last = tonumber(v[2]) or 0
local blocked_until = tonumber(v[3]) or 0
if blocked_until <= now and last <= now - window then failures = 0 end
failures = failures + 1
local started = 0
if failures >= maxf and blocked_until <= now then
  blocked_until = now + block
  started = 1
end
redis.call('HSET', KEYS[1], 'failures', failures, 'last_failure', now,
           'blocked_until', blocked_until)
local keep = window
if blocked_until - now > keep then keep = blocked_until - now end
redis.call('EXPIRE', KEYS[1], keep)
return {started, failures}
)lua";

// Seconds the block of KEYS[1] has left, 0 when none.
constexpr char kBlockedFor[] = POP3D_LUA_PROLOGUE R"lua(
local b = tonumber(redis.call('HGET', KEYS[1], 'blocked_until')) or 0
if b > now then return b - now end
return 0
)lua";

// Forgets KEYS[1]; 1 when it was blocked.
constexpr char kUnblock[] = POP3D_LUA_PROLOGUE R"lua(
local b = tonumber(redis.call('HGET', KEYS[1], 'blocked_until')) or 0
redis.call('DEL', KEYS[1])
if b > now then return 1 end
return 0
)lua";

// For each of KEYS: seconds of block left (0: none) and failures.
constexpr char kDescribe[] = POP3D_LUA_PROLOGUE R"lua(
local out = {}
for _, k in ipairs(KEYS) do
  local v = redis.call('HMGET', k, 'failures', 'blocked_until')
  local left = (tonumber(v[2]) or 0) - now
  if left < 0 then left = 0 end
  out[#out + 1] = left
  out[#out + 1] = tonumber(v[1]) or 0
end
return out
)lua";

#undef POP3D_LUA_PROLOGUE

std::optional<IpKey> from_hex(const std::string& text) {
  if (text.size() != 32) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  IpKey key{};
  for (size_t i = 0; i < key.size(); ++i) {
    const int hi = digit(text[2 * i]), lo = digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return key;
}

// SCAN's MATCH is a glob: the prefix is taken literally.
std::string glob_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

bool integer_at(const RedisValue& v, size_t i, int64_t* out) {
  if (v.kind != RedisValue::Kind::kArray || i >= v.items.size() ||
      v.items[i].kind != RedisValue::Kind::kInteger) {
    return false;
  }
  *out = v.items[i].integer;
  return true;
}

}  // namespace

RedisAddressState::RedisAddressState(std::shared_ptr<RedisLink> link, std::string key_prefix,
                                     AntiHammerPolicy policy,
                                     std::optional<LocalAddressState> local)
    : link_(std::move(link)),
      prefix_(std::move(key_prefix)),
      policy_(policy),
      local_(std::move(local)) {}

std::string RedisAddressState::key_of(const IpKey& address) const {
  const IpKey key = AntiHammerTable::key_for(address, policy_.ipv6_prefix);
  return prefix_ + "hammer:" + hex_lower({reinterpret_cast<const char*>(key.data()), key.size()});
}

Result<RedisValue> RedisAddressState::eval(const char* script, const std::vector<std::string>& keys,
                                           const std::vector<std::string>& args) {
  // Plain EVAL: the scripts are a few hundred bytes, and EVALSHA would
  // need a NOSCRIPT round trip after every Redis restart.
  std::vector<std::string> argv{"EVAL", script, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return link_->command(argv);
}

bool RedisAddressState::is_blocked(const IpKey& address, int64_t now) {
  auto r = eval(kBlockedFor, {key_of(address)}, {});
  if (r && r->kind == RedisValue::Kind::kInteger) return r->integer > 0;
  return local_ && local_->is_blocked(address, now);
}

bool RedisAddressState::record_failure(const IpKey& address, int64_t now) {
  // Counted here first: if Redis goes, this node already knows.
  const bool local_started = local_ && local_->record_failure(address, now);
  auto r = eval(kRecordFailure, {key_of(address)},
                {std::to_string(policy_.max_failures), std::to_string(policy_.failure_timeout),
                 std::to_string(policy_.block_time)});
  int64_t started = 0;
  if (r && integer_at(*r, 0, &started)) return started == 1;
  return local_started;
}

Result<bool> RedisAddressState::unblock(const IpKey& address) {
  const bool local_blocked = local_ && *local_->unblock(address);
  auto r = eval(kUnblock, {key_of(address)}, {});
  if (!r) return r.error();
  return local_blocked || (r->kind == RedisValue::Kind::kInteger && r->integer == 1);
}

Result<std::vector<BlockedAddress>> RedisAddressState::blocked(int64_t) {
  std::vector<BlockedAddress> out;
  const std::string key_head = prefix_ + "hammer:";
  const std::string pattern = glob_escape(key_head) + "*";
  std::string cursor = "0";
  size_t seen = 0;
  do {
    auto page =
        link_->command({"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(kScanCount)});
    if (!page) return page.error();
    if (page->kind != RedisValue::Kind::kArray || page->items.size() != 2 ||
        page->items[1].kind != RedisValue::Kind::kArray) {
      return Error{"redis sent SCAN a reply of the wrong shape"};
    }
    cursor = page->items[0].str;
    std::vector<std::string> keys;
    std::vector<IpKey> addresses;
    for (const auto& k : page->items[1].items) {
      if (seen >= kMaxListedKeys) break;
      ++seen;
      if (k.str.compare(0, key_head.size(), key_head) != 0) continue;
      auto address = from_hex(k.str.substr(key_head.size()));
      if (!address) continue;  // not a key this pop3d wrote
      keys.push_back(k.str);
      addresses.push_back(*address);
    }
    if (keys.empty()) continue;
    auto described = eval(kDescribe, keys, {});
    if (!described) return described.error();
    for (size_t i = 0; i < addresses.size(); ++i) {
      int64_t left = 0, failures = 0;
      if (!integer_at(*described, 2 * i, &left) || !integer_at(*described, 2 * i + 1, &failures)) {
        return Error{"redis sent a description of the wrong shape"};
      }
      if (left <= 0) continue;
      out.push_back({describe_address_key(addresses[i], policy_.ipv6_prefix), left,
                     static_cast<int>(std::min<int64_t>(failures, INT32_MAX))});
    }
  } while (cursor != "0" && seen < kMaxListedKeys);
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.seconds_left > b.seconds_left; });
  return out;
}

}  // namespace pop3d
