#include "sharedstate/redis_link.hpp"

#include <sys/time.h>

#include "log/logger.hpp"

namespace pop3d {

namespace {

// A failed connection is not retried sooner than this, per process.
constexpr std::chrono::seconds kReconnectPause{1};
// The replies pop3d asks for are small; anything beyond this is not ours.
constexpr size_t kMaxReplyItems = 20000;
constexpr int kMaxReplyDepth = 3;

timeval to_timeval(std::chrono::steady_clock::duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(us / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(us % 1000000);
  return tv;
}

Result<RedisValue> copy_reply(const redisReply* r, int depth) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_NIL:
      return v;
    case REDIS_REPLY_INTEGER:
      v.kind = RedisValue::Kind::kInteger;
      v.integer = r->integer;
      return v;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      v.kind =
          r->type == REDIS_REPLY_STRING ? RedisValue::Kind::kString : RedisValue::Kind::kStatus;
      v.str.assign(r->str, r->len);
      return v;
    case REDIS_REPLY_ERROR:
      return Error{"redis answered: " + std::string(r->str, r->len)};
    case REDIS_REPLY_ARRAY:
      if (depth >= kMaxReplyDepth || r->elements > kMaxReplyItems) {
        return Error{"redis sent a reply larger than pop3d asks for"};
      }
      v.kind = RedisValue::Kind::kArray;
      v.items.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) {
        auto item = copy_reply(r->element[i], depth + 1);
        if (!item) return item.error();
        v.items.push_back(std::move(*item));
      }
      return v;
    default:
      return Error{"redis sent a reply of unknown type " + std::to_string(r->type)};
  }
}

}  // namespace

RedisLink::RedisLink(RedisLinkConfig config, std::shared_ptr<LinkHealth> health)
    : config_(std::move(config)), health_(std::move(health)) {}

Status RedisLink::connect(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return Error{"timed out"};
  const timeval tv = to_timeval(left);
  const RedisEndpoint& e = config_.endpoint;
  Context c(e.is_unix() ? redisConnectUnixWithTimeout(e.unix_path.c_str(), tv)
                        : redisConnectWithTimeout(e.host.c_str(), e.port, tv));
  if (!c) return Error{"out of memory"};
  if (c->err) return Error{c->errstr};
  context_ = std::move(c);
  if (config_.credentials) {
    std::vector<std::string> auth{"AUTH"};
    if (!config_.credentials->user.empty()) auth.push_back(config_.credentials->user);
    auth.emplace_back(config_.credentials->password.view());
    auto r = run(auth, deadline);
    for (auto& a : auth) OPENSSL_cleanse(a.data(), a.size());
    if (!r) {
      context_.reset();
      return Error{"AUTH failed: " + r.error().message};
    }
  }
  return {};
}

Result<RedisValue> RedisLink::run(const std::vector<std::string>& argv,
                                  Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return Error{"timed out"};
  if (redisSetTimeout(context_.get(), to_timeval(left)) != REDIS_OK) {
    return Error{"cannot set the time-out"};
  }
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context_.get(), static_cast<int>(args.size()), args.data(), lengths.data()));
  if (reply == nullptr) {
    // The connection is unusable after any I/O or protocol error.
    std::string why = context_->err ? context_->errstr : "no reply";
    if (context_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      why = "timed out";
    }
    context_.reset();
    return Error{why};
  }
  auto value = copy_reply(reply, 0);
  freeReplyObject(reply);
  return value;
}

Result<RedisValue> RedisLink::attempt(const std::vector<std::string>& argv,
                                      Clock::time_point deadline) {
  const bool had_connection = static_cast<bool>(context_);
  if (!context_) {
    if (Status s = connect(deadline); !s) return s.error();
  }
  auto r = run(argv, deadline);
  if (!r && had_connection && !context_) {
    // An old connection may simply have been closed (a restart): one more
    // try on a fresh one before Redis counts as gone.
    if (Status s = connect(deadline); !s) return s.error();
    r = run(argv, deadline);
  }
  return r;
}

Result<RedisValue> RedisLink::command(const std::vector<std::string>& argv) {
  const auto start = Clock::now();
  if (!context_ && start < next_connect_) return Error{"unreachable (not retried yet)"};
  auto r = attempt(argv, start + config_.timeout);
  if (!r) {
    // An error reply leaves the connection usable: Redis is there.
    if (context_) return r.error();
    next_connect_ = Clock::now() + kReconnectPause;
    went_down(r.error().message);
    return r.error();
  }
  if (health_ && health_->mark_up()) {
    log_notice("shared state: redis at " + config_.endpoint.text + " is back");
  }
  return r;
}

void RedisLink::went_down(const std::string& reason) {
  if (health_ != nullptr && health_->mark_down()) {
    log_warning("shared state: redis at " + config_.endpoint.text + " unreachable (" + reason +
                "); anti-hammering and per-address limits continue with this node's tables");
  }
}

}  // namespace pop3d
