// RedisAddressState against a real redis-server, started here.
#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <thread>

#include "sharedstate/redis_address_state.hpp"
#include "sharedstate/shared_state_config.hpp"
#include "tests/sharedstate/redis_server.hpp"

namespace pop3d {

namespace {

using Clock = std::chrono::steady_clock;

IpKey ip(const char* text) {
  return *parse_ip_key(text);
}

// A "node": its own table and its own connection, as a worker has.
struct Node {
  AntiHammerTable table;
  std::shared_ptr<LinkHealth> health;
  std::unique_ptr<AddressState> state;
  RedisAddressState* redis = nullptr;

  Node(const std::string& address, AntiHammerPolicy policy, const std::string& prefix,
       std::shared_ptr<const RedisCredentials> credentials = nullptr)
      : table(AntiHammerTable::create_anonymous(64).value()), health(LinkHealth::create().value()) {
    SharedStateConfig c;
    c.link.credentials = std::move(credentials);
    c.redis = true;
    c.key_prefix = prefix;
    c.link.endpoint = *RedisEndpoint::parse(address);
    c.link.timeout = std::chrono::milliseconds(200);
    state = make_address_state(c, policy, LocalAddressState(table, policy), health);
    redis = dynamic_cast<RedisAddressState*>(state.get());
  }
};

// A bound that only a call that waited for Redis without limit breaks; it
// is no speed test.
constexpr auto kGenerousBound = std::chrono::milliseconds(2000);

}  // namespace

class RedisAddressStateTest : public test::RedisServerFixture {
  CPPUNIT_TEST_SUITE(RedisAddressStateTest);
  CPPUNIT_TEST(failures_count_to_a_block);
  CPPUNIT_TEST(two_nodes_see_one_block);
  CPPUNIT_TEST(unblock_lifts_it_everywhere);
  CPPUNIT_TEST(entries_expire);
  CPPUNIT_TEST(redis_gone_then_back);
  CPPUNIT_TEST(a_silent_redis_costs_at_most_the_timeout);
  CPPUNIT_TEST(auth_with_a_password_or_an_acl_user);
  CPPUNIT_TEST_SUITE_END();

  const AntiHammerPolicy policy_{3, 600, 60, 64};

 public:
  void failures_count_to_a_block() {
    Node n(server_->address(), policy_, "t1:");
    const IpKey a = ip("192.0.2.1");
    CPPUNIT_ASSERT(!n.state->is_blocked(a, 0));
    CPPUNIT_ASSERT(!n.state->record_failure(a, 0));
    CPPUNIT_ASSERT(!n.state->record_failure(a, 0));
    CPPUNIT_ASSERT(!n.state->is_blocked(a, 0));
    CPPUNIT_ASSERT(n.state->record_failure(a, 0));   // the third starts it
    CPPUNIT_ASSERT(!n.state->record_failure(a, 0));  // already running
    CPPUNIT_ASSERT(n.state->is_blocked(a, 0));
    CPPUNIT_ASSERT(!n.state->is_blocked(ip("192.0.2.2"), 0));
    auto list = n.state->blocked(0);
    CPPUNIT_ASSERT(list.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{1}, list->size());
    CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.1"), (*list)[0].address);
    CPPUNIT_ASSERT_EQUAL(4, (*list)[0].failures);
    CPPUNIT_ASSERT((*list)[0].seconds_left > 50 && (*list)[0].seconds_left <= 60);
  }

  void two_nodes_see_one_block() {
    Node one(server_->address(), policy_, "t2:");
    Node two(server_->address(), policy_, "t2:");
    Node other_cluster(server_->address(), policy_, "elsewhere:");
    const IpKey a = ip("2001:db8:1:2::7");
    CPPUNIT_ASSERT(!one.state->record_failure(a, 0));
    CPPUNIT_ASSERT(!two.state->record_failure(ip("2001:db8:1:2::8"), 0));  // same /64
    CPPUNIT_ASSERT(one.state->record_failure(a, 0));
    CPPUNIT_ASSERT(two.state->is_blocked(a, 0));
    CPPUNIT_ASSERT(one.state->is_blocked(a, 0));
    // Neither node's own table saw enough to block: Redis did it.
    CPPUNIT_ASSERT(!one.table.is_blocked(a, policy_, 0));
    CPPUNIT_ASSERT(!other_cluster.state->is_blocked(a, 0));
    auto list = two.state->blocked(0);
    CPPUNIT_ASSERT(list.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{1}, list->size());
    CPPUNIT_ASSERT_EQUAL(std::string("2001:db8:1:2::/64"), (*list)[0].address);
  }

  void unblock_lifts_it_everywhere() {
    Node one(server_->address(), policy_, "t3:");
    Node two(server_->address(), policy_, "t3:");
    const IpKey a = ip("192.0.2.3");
    for (int i = 0; i < 3; ++i) one.state->record_failure(a, 0);  // one's table blocks too
    CPPUNIT_ASSERT(one.table.is_blocked(a, policy_, 0));
    auto lifted = two.state->unblock(a);
    CPPUNIT_ASSERT(lifted.ok() && *lifted);
    CPPUNIT_ASSERT(!two.state->is_blocked(a, 0));
    // Redis decides while it answers: one's own count does not outlive it.
    CPPUNIT_ASSERT(!one.state->is_blocked(a, 0));
    auto again = two.state->unblock(a);
    CPPUNIT_ASSERT(again.ok() && !*again);
    CPPUNIT_ASSERT(one.state->blocked(0)->empty());
  }

  void entries_expire() {
    const AntiHammerPolicy quick{2, 1, 1, 64};
    Node n(server_->address(), quick, "t4:");
    RedisLink raw(n.redis == nullptr ? RedisLinkConfig{}
                                     : RedisLinkConfig{*RedisEndpoint::parse(server_->address()),
                                                       nullptr, std::chrono::milliseconds(500)},
                  nullptr);
    const IpKey a = ip("192.0.2.4");
    n.state->record_failure(a, 0);
    CPPUNIT_ASSERT(n.state->record_failure(a, 0));
    auto ttl = raw.command({"TTL", n.redis->key_of(a)});
    CPPUNIT_ASSERT(ttl.ok());
    CPPUNIT_ASSERT(ttl->integer >= 0 && ttl->integer <= 1);  // an expiry is set
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    int64_t exists = 1;
    while (exists == 1 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto r = raw.command({"EXISTS", n.redis->key_of(a)});
      CPPUNIT_ASSERT(r.ok());
      exists = r->integer;
    }
    CPPUNIT_ASSERT_EQUAL(int64_t{0}, exists);
    CPPUNIT_ASSERT(!n.state->is_blocked(a, 0));
  }

  void redis_gone_then_back() {
    Node n(server_->address(), policy_, "t5:");
    const IpKey a = ip("192.0.2.5");
    CPPUNIT_ASSERT(!n.state->record_failure(a, 100));  // connected, and counted in both
    CPPUNIT_ASSERT(!n.health->down());
    server_->stop();
    // Every call returns in bounded time, and the node's table still counts.
    for (int i = 0; i < 4; ++i) {
      const auto t0 = Clock::now();
      if (i < 2) n.state->record_failure(a, 100);
      const bool blocked = n.state->is_blocked(a, 100);
      CPPUNIT_ASSERT(Clock::now() - t0 < kGenerousBound);
      CPPUNIT_ASSERT_EQUAL(i >= 1, blocked);
    }
    CPPUNIT_ASSERT(n.health->down());
    CPPUNIT_ASSERT(!n.state->blocked(100).ok());  // the CLI is told
    CPPUNIT_ASSERT(!n.state->unblock(a).ok());
    // Back (empty: no persistence): Redis decides again, after the pause.
    CPPUNIT_ASSERT(server_->start());
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    CPPUNIT_ASSERT(!n.state->is_blocked(a, 100));
    CPPUNIT_ASSERT(!n.health->down());
    const IpKey b = ip("192.0.2.6");
    n.state->record_failure(b, 100);
    n.state->record_failure(b, 100);
    CPPUNIT_ASSERT(n.state->record_failure(b, 100));
    Node fresh(server_->address(), policy_, "t5:");
    CPPUNIT_ASSERT(fresh.state->is_blocked(b, 100));
  }

  void a_silent_redis_costs_at_most_the_timeout() {
    Node n(server_->address(), policy_, "t7:");
    const IpKey a = ip("192.0.2.8");
    n.state->record_failure(a, 0);
    server_->freeze();
    const auto t0 = Clock::now();
    n.state->record_failure(a, 0);
    const auto waited = Clock::now() - t0;
    CPPUNIT_ASSERT(waited < kGenerousBound);
    CPPUNIT_ASSERT(waited >= std::chrono::milliseconds(150));  // it did wait for Redis
    CPPUNIT_ASSERT(n.health->down());
    // Within the pause nothing waits at all, and the table decides.
    const auto t1 = Clock::now();
    CPPUNIT_ASSERT(n.state->record_failure(a, 0));
    CPPUNIT_ASSERT(n.state->is_blocked(a, 0));
    CPPUNIT_ASSERT(Clock::now() - t1 < std::chrono::milliseconds(150));
    server_->thaw();
  }

  void auth_with_a_password_or_an_acl_user() {
    RedisLink admin(RedisLinkConfig{*RedisEndpoint::parse(server_->address()), nullptr,
                                    std::chrono::milliseconds(500)},
                    nullptr);
    CPPUNIT_ASSERT(admin.command({"ACL", "SETUSER", "pop3d", "on", ">acl-pw", "~*", "+@all"}).ok());
    CPPUNIT_ASSERT(admin.command({"CONFIG", "SET", "requirepass", "default-pw"}).ok());
    auto with = [](const char* user, const char* password) {
      auto c = std::make_shared<RedisCredentials>();
      c->user = user;
      c->password = SecretString(password);
      return std::shared_ptr<const RedisCredentials>(std::move(c));
    };
    const IpKey a = ip("192.0.2.7");
    Node by_password(server_->address(), policy_, "t6:", with("", "default-pw"));
    Node by_user(server_->address(), policy_, "t6:", with("pop3d", "acl-pw"));
    Node wrong(server_->address(), policy_, "t6:", with("", "nope"));
    by_password.state->record_failure(a, 0);
    by_user.state->record_failure(a, 0);
    CPPUNIT_ASSERT(!by_user.health->down() && !by_password.health->down());
    // Refused by Redis: it counts as down, and the node's table alone decides.
    CPPUNIT_ASSERT(!wrong.state->record_failure(a, 0));
    CPPUNIT_ASSERT(wrong.health->down());
    CPPUNIT_ASSERT(by_password.state->record_failure(a, 0));  // Redis saw all three
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RedisAddressStateTest);

}  // namespace pop3d
