// RedisLink: one process's connection to Redis, for the shared-state
// back-ends. It connects on first use (so each worker has its own after
// the fork), and every call, connecting and AUTH included, ends within the
// time-out. After a failed attempt it does not try again for a second, so
// a dead Redis costs a login at most one time-out, and usually nothing.
//
// A connection that fails under a command (Redis restarted, an idle
// connection closed) is replaced at once and the command tried once more:
// only a fresh connection that fails means Redis is gone. Going and coming
// back are logged once per node through LinkHealth.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "auth/secret_string.hpp"
#include "sharedstate/link_health.hpp"
#include "sharedstate/redis_endpoint.hpp"
#include "util/result.hpp"

namespace pop3d {

// general.shared_state.password_file: "password", or "user password" for a
// Redis ACL user.
struct RedisCredentials {
  std::string user;  // empty: the default user (AUTH password)
  SecretString password;
};

struct RedisLinkConfig {
  RedisEndpoint endpoint;
  std::shared_ptr<const RedisCredentials> credentials;  // null: no AUTH
  std::chrono::milliseconds timeout{200};
};

// A reply, copied out of hiredis's so that callers need not know it.
struct RedisValue {
  enum class Kind { kNil, kInteger, kString, kStatus, kArray };
  Kind kind = Kind::kNil;
  int64_t integer = 0;
  std::string str;
  std::vector<RedisValue> items;
};

class RedisLink {
 public:
  // `health` is the node's shared up/down flag; null (the admin CLI, which
  // reports errors itself) logs nothing.
  RedisLink(RedisLinkConfig config, std::shared_ptr<LinkHealth> health);
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // One command; an error reply from Redis is an Error too.
  Result<RedisValue> command(const std::vector<std::string>& argv);

  const RedisEndpoint& endpoint() const { return config_.endpoint; }

 private:
  using Clock = std::chrono::steady_clock;
  struct ContextFree {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  using Context = std::unique_ptr<redisContext, ContextFree>;

  Result<RedisValue> attempt(const std::vector<std::string>& argv, Clock::time_point deadline);
  Status connect(Clock::time_point deadline);
  Result<RedisValue> run(const std::vector<std::string>& argv, Clock::time_point deadline);
  void went_down(const std::string& reason);

  RedisLinkConfig config_;
  std::shared_ptr<LinkHealth> health_;
  Context context_;
  Clock::time_point next_connect_{};  // no attempt before this, after a failure
};

}  // namespace pop3d
