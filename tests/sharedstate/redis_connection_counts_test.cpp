// RedisConnectionCounts and its LeaseKeeper against a real redis-server,
// started here; and the worker's factory for both back-ends.
#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <thread>

#include "config/settings.hpp"
#include "sharedstate/redis_connection_counts.hpp"
#include "sharedstate/shared_state_config.hpp"
#include "tests/sharedstate/redis_server.hpp"

namespace pop3d {

namespace {

using std::chrono::milliseconds;

IpKey ip(const char* text) {
  return *parse_ip_key(text);
}

RedisLinkConfig link_to(const std::string& address) {
  return RedisLinkConfig{*RedisEndpoint::parse(address), nullptr, milliseconds(200)};
}

// One worker of a node: its own link (with the node's health flag) and
// its own keeper, as make_worker_shared_state gives it.
struct Worker {
  std::shared_ptr<LinkHealth> health;
  std::unique_ptr<RedisConnectionCounts> counts;

  Worker(const std::string& address, const std::string& prefix, milliseconds lease,
         const std::string& node = "node-a", std::shared_ptr<LinkHealth> shared_health = nullptr)
      : health(shared_health ? std::move(shared_health) : LinkHealth::create().value()) {
    auto keeper = LeaseKeeper::start(link_to(address), lease / 3);
    CPPUNIT_ASSERT(keeper.ok());
    counts = std::make_unique<RedisConnectionCounts>(
        std::make_shared<RedisLink>(link_to(address), health), std::move(*keeper), prefix, 64,
        lease, node);
  }
};

// Redis's clock in milliseconds, as the scripts read it.
int64_t redis_now_ms(RedisLink& link) {
  auto t = link.command({"TIME"});
  CPPUNIT_ASSERT(t.ok() && t->items.size() == 2);
  return std::stoll(t->items[0].str) * 1000 + std::stoll(t->items[1].str) / 1000;
}

// A bound that only a call that waited for Redis without limit breaks; it
// is no speed test.
constexpr auto kGenerousBound = milliseconds(2000);
constexpr milliseconds kLongLease{30000};

}  // namespace

class RedisConnectionCountsTest : public test::RedisServerFixture {
  CPPUNIT_TEST_SUITE(RedisConnectionCountsTest);
  CPPUNIT_TEST(nodes_share_the_limit);
  CPPUNIT_TEST(addresses_and_ipv6_networks_count_apart);
  CPPUNIT_TEST(no_limit_asks_nothing);
  CPPUNIT_TEST(a_dead_nodes_sessions_stop_counting_after_their_lease);
  CPPUNIT_TEST(the_keeper_renews_a_live_session_until_it_ends);
  CPPUNIT_TEST(a_lost_member_is_put_back);
  CPPUNIT_TEST(redis_gone_counts_on_the_node_then_back);
  CPPUNIT_TEST(a_session_admitted_without_redis_counts_once_it_is_back);
  CPPUNIT_TEST(the_worker_factory_picks_the_backend);
  CPPUNIT_TEST(a_lease_shorter_than_three_timeouts_is_refused);
  CPPUNIT_TEST_SUITE_END();

  std::unique_ptr<RedisLink> admin_;

 public:
  void setUp() override {
    RedisServerFixture::setUp();
    admin_ = std::make_unique<RedisLink>(link_to(server_->address()), nullptr);
  }
  void tearDown() override {
    admin_.reset();
    RedisServerFixture::tearDown();
  }

  int64_t members(const std::string& key) {
    auto r = admin_->command({"ZCARD", key});
    CPPUNIT_ASSERT(r.ok() && r->kind == RedisValue::Kind::kInteger);
    return r->integer;
  }

  void nodes_share_the_limit() {
    // Two workers of node a, one of node b: general.max_connections_per_ip 2.
    Worker a1(server_->address(), "c1:", kLongLease, "node-a");
    Worker a2(server_->address(), "c1:", kLongLease, "node-a");
    Worker b1(server_->address(), "c1:", kLongLease, "node-b");
    const IpKey client = ip("192.0.2.1");
    CPPUNIT_ASSERT(a1.counts->admit(client, 2) == CountVerdict::kAdmitted);
    CPPUNIT_ASSERT(a2.counts->admit(client, 2) == CountVerdict::kAdmitted);
    CPPUNIT_ASSERT(b1.counts->admit(client, 2) == CountVerdict::kTooManyFromAddress);
    const std::string key = a1.counts->key_of(client);
    CPPUNIT_ASSERT_EQUAL(std::string("c1:conn:00000000000000000000ffffc0000201"), key);
    CPPUNIT_ASSERT_EQUAL(int64_t{2}, members(key));
    // The member names the node and the worker, and a token per session.
    const std::string m = a1.counts->member();
    const std::string head = "node-a:" + std::to_string(::getpid()) + ":";
    CPPUNIT_ASSERT_EQUAL(head, m.substr(0, head.size()));
    CPPUNIT_ASSERT_EQUAL(size_t{16}, m.size() - head.size());
    CPPUNIT_ASSERT(m != a2.counts->member());
    // A refused session holds nothing.
    CPPUNIT_ASSERT(b1.counts->member().empty());
    // One ends on a: b gets its place, and then the address is full again.
    a1.counts->end_session();
    CPPUNIT_ASSERT_EQUAL(int64_t{1}, members(key));
    CPPUNIT_ASSERT(b1.counts->admit(client, 2) == CountVerdict::kAdmitted);
    CPPUNIT_ASSERT(a1.counts->admit(client, 2) == CountVerdict::kTooManyFromAddress);
    // A higher limit on one node (a reload not yet everywhere) is its own.
    CPPUNIT_ASSERT(a1.counts->admit(client, 3) == CountVerdict::kAdmitted);
    a1.counts->end_session();
    a2.counts->end_session();
    b1.counts->end_session();
    CPPUNIT_ASSERT_EQUAL(int64_t{0}, members(key));
    auto exists = admin_->command({"EXISTS", key});
    CPPUNIT_ASSERT(exists.ok() && exists->integer == 0);
  }

  void addresses_and_ipv6_networks_count_apart() {
    Worker a(server_->address(), "c2:", kLongLease);
    Worker b(server_->address(), "c2:", kLongLease);
    Worker c(server_->address(), "c2:", kLongLease);
    Worker other_cluster(server_->address(), "elsewhere:", kLongLease);
    CPPUNIT_ASSERT(a.counts->admit(ip("192.0.2.1"), 1) == CountVerdict::kAdmitted);
    CPPUNIT_ASSERT(b.counts->admit(ip("192.0.2.2"), 1) == CountVerdict::kAdmitted);
    CPPUNIT_ASSERT(other_cluster.counts->admit(ip("192.0.2.1"), 1) == CountVerdict::kAdmitted);
    a.counts->end_session();
    b.counts->end_session();
    // One /64 is one client, as anti-hammering counts it.
    CPPUNIT_ASSERT(a.counts->admit(ip("2001:db8:1:2::7"), 2) == CountVerdict::kAdmitted);
    CPPUNIT_ASSERT(b.counts->admit(ip("2001:db8:1:2::8"), 2) == CountVerdict::kAdmitted);
    CPPUNIT_ASSERT(c.counts->admit(ip("2001:db8:1:2:ffff::1"), 2) ==
                   CountVerdict::kTooManyFromAddress);
    CPPUNIT_ASSERT(c.counts->admit(ip("2001:db8:1:3::1"), 2) == CountVerdict::kAdmitted);
  }

  void no_limit_asks_nothing() {
    Worker a(server_->address(), "c3:", kLongLease);
    for (int i = 0; i < 3; ++i) {
      CPPUNIT_ASSERT(a.counts->admit(ip("192.0.2.1"), 0) == CountVerdict::kCountHere);
    }
    auto keys = admin_->command({"DBSIZE"});
    CPPUNIT_ASSERT(keys.ok() && keys->integer == 0);
    // Not even with Redis gone: no outage is seen, none is logged.
    server_->stop();
    CPPUNIT_ASSERT(a.counts->admit(ip("192.0.2.1"), 0) == CountVerdict::kCountHere);
    CPPUNIT_ASSERT(!a.health->down());
  }

  void a_dead_nodes_sessions_stop_counting_after_their_lease() {
    Worker b(server_->address(), "c4:", kLongLease, "node-b");
    const IpKey client = ip("192.0.2.4");
    const std::string key = b.counts->key_of(client);
    // A session of a node that died: its lease runs out 600 ms from now and
    // nobody renews or removes it.
    const int64_t now = redis_now_ms(*admin_);
    CPPUNIT_ASSERT(
        admin_->command({"ZADD", key, std::to_string(now + 600), "node-dead:1:00"}).ok());
    CPPUNIT_ASSERT(b.counts->admit(client, 1) == CountVerdict::kTooManyFromAddress);
    std::this_thread::sleep_for(milliseconds(700));
    CPPUNIT_ASSERT(b.counts->admit(client, 1) == CountVerdict::kAdmitted);
    // The dead one is gone from the set, not only out of the count.
    auto dead = admin_->command({"ZSCORE", key, "node-dead:1:00"});
    CPPUNIT_ASSERT(dead.ok() && dead->kind == RedisValue::Kind::kNil);
    // The key lives as long as its last lease, no longer.
    auto ttl = admin_->command({"PTTL", key});
    CPPUNIT_ASSERT(ttl.ok() && ttl->integer > 25000 && ttl->integer <= 30000);
  }

  void the_keeper_renews_a_live_session_until_it_ends() {
    const milliseconds lease(1200);
    Worker a(server_->address(), "c5:", lease, "node-a");
    Worker b(server_->address(), "c5:", lease, "node-b");
    const IpKey client = ip("192.0.2.5");
    CPPUNIT_ASSERT(a.counts->admit(client, 1) == CountVerdict::kAdmitted);
    const std::string key = a.counts->key_of(client);
    const std::string member = a.counts->member();
    // Three leases long: without renewals it would have gone twice over.
    std::this_thread::sleep_for(lease * 3);
    CPPUNIT_ASSERT(b.counts->admit(client, 1) == CountVerdict::kTooManyFromAddress);
    auto score = admin_->command({"ZSCORE", key, member});
    CPPUNIT_ASSERT(score.ok() && score->kind == RedisValue::Kind::kString);
    CPPUNIT_ASSERT(std::stoll(score->str) > redis_now_ms(*admin_));
    CPPUNIT_ASSERT(a.counts->keeper().renewals() >= 4);
    a.counts->end_session();
    const uint64_t renewed = a.counts->keeper().renewals();
    CPPUNIT_ASSERT(b.counts->admit(client, 1) == CountVerdict::kAdmitted);
    b.counts->end_session();
    // After its end, the session is never renewed back into the count.
    std::this_thread::sleep_for(lease);
    CPPUNIT_ASSERT_EQUAL(renewed, a.counts->keeper().renewals());
    CPPUNIT_ASSERT_EQUAL(int64_t{0}, members(key));
  }

  void a_lost_member_is_put_back() {
    const milliseconds lease(1200);
    Worker a(server_->address(), "c6:", lease, "node-a");
    Worker b(server_->address(), "c6:", lease, "node-b");
    const IpKey client = ip("192.0.2.6");
    CPPUNIT_ASSERT(a.counts->admit(client, 1) == CountVerdict::kAdmitted);
    // Redis restarted empty: the session is still being served and counts
    // again from its next renewal.
    CPPUNIT_ASSERT(admin_->command({"FLUSHALL"}).ok());
    CPPUNIT_ASSERT_EQUAL(int64_t{0}, members(a.counts->key_of(client)));
    std::this_thread::sleep_for(lease / 3 + milliseconds(300));
    CPPUNIT_ASSERT_EQUAL(int64_t{1}, members(a.counts->key_of(client)));
    CPPUNIT_ASSERT(b.counts->admit(client, 1) == CountVerdict::kTooManyFromAddress);
  }

  void redis_gone_counts_on_the_node_then_back() {
    const auto node_health = LinkHealth::create().value();
    Worker a(server_->address(), "c7:", kLongLease, "node-a", node_health);
    Worker a2(server_->address(), "c7:", kLongLease, "node-a", node_health);
    const IpKey client = ip("192.0.2.7");
    CPPUNIT_ASSERT(a.counts->admit(client, 1) == CountVerdict::kAdmitted);
    server_->stop();
    // The session's end is not heard; nothing waits for it.
    auto t0 = std::chrono::steady_clock::now();
    a.counts->end_session();
    CPPUNIT_ASSERT(a2.counts->admit(client, 1) == CountVerdict::kCountHere);
    CPPUNIT_ASSERT(std::chrono::steady_clock::now() - t0 < kGenerousBound);
    CPPUNIT_ASSERT(node_health->down());
    // Frozen: it accepts but never answers; a call still ends in time.
    // (Another address: Redis may run the script once it thaws, and that
    // member then counts for its lease, as an unrenewed one would.)
    CPPUNIT_ASSERT(server_->start());
    server_->freeze();
    std::this_thread::sleep_for(std::chrono::seconds(1));  // past the reconnect pause
    t0 = std::chrono::steady_clock::now();
    CPPUNIT_ASSERT(a.counts->admit(ip("192.0.2.70"), 1) == CountVerdict::kCountHere);
    CPPUNIT_ASSERT(std::chrono::steady_clock::now() - t0 < kGenerousBound);
    server_->thaw();
    std::this_thread::sleep_for(milliseconds(1100));
    CPPUNIT_ASSERT(a.counts->admit(client, 1) == CountVerdict::kAdmitted);
    CPPUNIT_ASSERT(!node_health->down());
    CPPUNIT_ASSERT(a2.counts->admit(client, 1) == CountVerdict::kTooManyFromAddress);
  }

  void a_session_admitted_without_redis_counts_once_it_is_back() {
    const milliseconds lease(1200);
    Worker a(server_->address(), "c9:", lease, "node-a");
    Worker b(server_->address(), "c9:", lease, "node-b");
    const IpKey client = ip("192.0.2.9");
    server_->stop();
    CPPUNIT_ASSERT(a.counts->admit(client, 1) == CountVerdict::kCountHere);
    CPPUNIT_ASSERT(server_->start());
    // The keeper's next try after its link's reconnect pause.
    std::this_thread::sleep_for(std::chrono::seconds(1) + lease / 3 + milliseconds(400));
    CPPUNIT_ASSERT_EQUAL(int64_t{1}, members(a.counts->key_of(client)));
    CPPUNIT_ASSERT(b.counts->admit(client, 1) == CountVerdict::kTooManyFromAddress);
    a.counts->end_session();
    CPPUNIT_ASSERT(b.counts->admit(client, 1) == CountVerdict::kAdmitted);
  }

  void the_worker_factory_picks_the_backend() {
    auto table = AntiHammerTable::create_anonymous(64).value();
    const AntiHammerPolicy policy{3, 600, 60, 64};
    SharedStateConfig c;
    c.key_prefix = "c8:";
    c.link = link_to(server_->address());
    c.lease = kLongLease;
    auto local =
        make_worker_shared_state(c, policy, LocalAddressState(table, policy), nullptr, "node");
    CPPUNIT_ASSERT(local.warning.empty());
    CPPUNIT_ASSERT(local.connections->admit(ip("192.0.2.8"), 1) == CountVerdict::kCountHere);
    c.redis = true;
    auto health = LinkHealth::create().value();
    auto redis =
        make_worker_shared_state(c, policy, LocalAddressState(table, policy), health, "node");
    CPPUNIT_ASSERT(redis.warning.empty());
    CPPUNIT_ASSERT(redis.connections->admit(ip("192.0.2.8"), 1) == CountVerdict::kAdmitted);
    auto* counts = dynamic_cast<RedisConnectionCounts*>(redis.connections.get());
    CPPUNIT_ASSERT(counts != nullptr);
    CPPUNIT_ASSERT_EQUAL(int64_t{1}, members(counts->key_of(ip("192.0.2.8"))));
    // Anti-hammering goes through the same worker's link.
    redis.addresses->record_failure(ip("192.0.2.8"), 0);
    auto hammer = admin_->command({"EXISTS", "c8:hammer:00000000000000000000ffffc0000208"});
    CPPUNIT_ASSERT(hammer.ok() && hammer->integer == 1);
    { CountedSession session(redis.connections.get()); }  // its end removes the member
    CPPUNIT_ASSERT_EQUAL(int64_t{0}, members(counts->key_of(ip("192.0.2.8"))));
  }

  void a_lease_shorter_than_three_timeouts_is_refused() {
    Settings s;
    s.general.shared_state.backend = "redis";
    s.general.shared_state.redis = server_->address();
    s.general.shared_state.timeout = milliseconds(500);
    s.general.shared_state.lease = milliseconds(1000);
    std::vector<std::string> warnings;
    auto refused = load_shared_state_config(s, nullptr, warnings);
    CPPUNIT_ASSERT(!refused.ok());
    CPPUNIT_ASSERT(refused.error().message.find("general.shared_state.lease") != std::string::npos);
    s.general.shared_state.lease = milliseconds(1500);
    auto taken = load_shared_state_config(s, nullptr, warnings);
    CPPUNIT_ASSERT(taken.ok());
    CPPUNIT_ASSERT_EQUAL(int64_t{1500}, static_cast<int64_t>(taken->lease.count()));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RedisConnectionCountsTest);

}  // namespace pop3d
