// RedisMaildropLeases against a real redis-server, started here, sharing
// its LeaseKeeper with the connection counts as a worker does; and
// LeasedMailStore, which puts the lease in front of a MailStore.
#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <thread>

#include "mailstore/leased_mail_store.hpp"
#include "sharedstate/redis_connection_counts.hpp"
#include "sharedstate/redis_maildrop_leases.hpp"
#include "tests/sharedstate/redis_server.hpp"

namespace pop3d {

namespace {

using std::chrono::milliseconds;

RedisLinkConfig link_to(const std::string& address) {
  return RedisLinkConfig{*RedisEndpoint::parse(address), nullptr, milliseconds(200)};
}

// One worker of a node. `renew_at` is where its keeper renews: another
// address plays a node cut off from Redis whose session goes on.
struct Worker {
  std::shared_ptr<LeaseKeeper> keeper;
  std::unique_ptr<RedisMaildropLeases> leases;

  Worker(const std::string& address, const std::string& prefix, milliseconds lease,
         const std::string& node, const std::string& renew_at = "") {
    auto k = LeaseKeeper::start(link_to(renew_at.empty() ? address : renew_at), lease / 3);
    CPPUNIT_ASSERT(k.ok());
    keeper = std::move(*k);
    leases = std::make_unique<RedisMaildropLeases>(
        std::make_shared<RedisLink>(link_to(address), LinkHealth::create().value()), keeper, prefix,
        lease, node);
  }
};

// A maildrop and store that count what is asked of them.
struct Calls {
  int opens = 0;
  int commits = 0;
  int closed = 0;
};

class CountingMaildrop : public Maildrop {
 public:
  explicit CountingMaildrop(Calls& calls) : calls_(calls) {}
  using Maildrop::commit;
  ~CountingMaildrop() override { ++calls_.closed; }
  size_t count() const override { return 0; }
  const MessageInfo& info(size_t) const override { return info_; }
  Result<UniqueFd> open_message(size_t) override { return Error{"none"}; }
  Result<CommitStats> commit(const std::vector<bool>&) override {
    ++calls_.commits;
    return CommitStats{};
  }

 private:
  Calls& calls_;
  MessageInfo info_;
};

class CountingStore : public MailStore {
 public:
  explicit CountingStore(Calls& calls) : calls_(calls) {}
  OpenOutcome open(const UserRecord&) override {
    ++calls_.opens;
    OpenOutcome o;
    o.status = status;
    if (status == OpenStatus::kOk) o.maildrop = std::make_unique<CountingMaildrop>(calls_);
    return o;
  }
  OpenStatus status = OpenStatus::kOk;

 private:
  Calls& calls_;
};

UserRecord alice() {
  UserRecord u;
  u.name = "alice";
  u.maildir = "/srv/mail/alice/Maildir";
  return u;
}

constexpr milliseconds kLongLease{30000};

}  // namespace

class RedisMaildropLeasesTest : public test::RedisServerFixture {
  CPPUNIT_TEST_SUITE(RedisMaildropLeasesTest);
  CPPUNIT_TEST(one_session_per_maildrop_across_nodes);
  CPPUNIT_TEST(a_dead_nodes_lease_runs_out_and_fences_its_session);
  CPPUNIT_TEST(a_session_begun_without_redis_takes_its_lease_when_it_is_back);
  CPPUNIT_TEST(leases_and_connection_counts_share_one_keeper);
  CPPUNIT_TEST(the_store_asks_for_the_lease_first_and_at_commit);
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

  std::string get(const std::string& key) {
    auto r = admin_->command({"GET", key});
    CPPUNIT_ASSERT(r.ok());
    return r->kind == RedisValue::Kind::kString ? r->str : std::string("(nil)");
  }

  void one_session_per_maildrop_across_nodes() {
    Worker a(server_->address(), "m1:", kLongLease, "node-a");
    Worker b(server_->address(), "m1:", kLongLease, "node-b");
    const std::string drop = "/srv/mail/alice/Maildir";
    std::string holder;
    CPPUNIT_ASSERT(a.leases->acquire(drop, holder) == LeaseVerdict::kHeld);
    const std::string key = a.leases->key_of(drop);
    CPPUNIT_ASSERT_EQUAL(std::string("m1:maildrop:/srv/mail/alice/Maildir"), key);
    const std::string value = a.leases->value();
    const std::string head = "node-a:" + std::to_string(::getpid()) + ":";
    CPPUNIT_ASSERT_EQUAL(head, value.substr(0, head.size()));
    CPPUNIT_ASSERT_EQUAL(value, get(key));
    // Another node is told who holds it, and holds nothing itself.
    CPPUNIT_ASSERT(b.leases->acquire(drop, holder) == LeaseVerdict::kBusy);
    CPPUNIT_ASSERT_EQUAL(value, holder);
    CPPUNIT_ASSERT(b.leases->value().empty());
    // Another maildrop is not caught by it.
    CPPUNIT_ASSERT(b.leases->acquire("/srv/mail/bob/Maildir", holder) == LeaseVerdict::kHeld);
    b.leases->release();
    CPPUNIT_ASSERT(a.leases->still_ours());
    a.leases->release();
    CPPUNIT_ASSERT_EQUAL(std::string("(nil)"), get(key));
    CPPUNIT_ASSERT(b.leases->acquire(drop, holder) == LeaseVerdict::kHeld);
    // A release by a's session, now over, leaves b's lease alone.
    a.leases->release();
    CPPUNIT_ASSERT_EQUAL(b.leases->value(), get(key));
  }

  void a_dead_nodes_lease_runs_out_and_fences_its_session() {
    const milliseconds lease(900);
    // a's renewals go nowhere: its node is cut off, or dead.
    test::RedisServer nowhere;
    Worker a(server_->address(), "m2:", lease, "node-a", nowhere.address());
    Worker b(server_->address(), "m2:", lease, "node-b");
    const std::string drop = "/srv/mail/carol/Maildir";
    std::string holder;
    CPPUNIT_ASSERT(a.leases->acquire(drop, holder) == LeaseVerdict::kHeld);
    CPPUNIT_ASSERT(b.leases->acquire(drop, holder) == LeaseVerdict::kBusy);
    std::this_thread::sleep_for(lease + milliseconds(300));
    CPPUNIT_ASSERT(b.leases->acquire(drop, holder) == LeaseVerdict::kHeld);
    // a's session, if it wakes up, must not commit.
    CPPUNIT_ASSERT(!a.leases->still_ours());
    CPPUNIT_ASSERT(b.leases->still_ours());
    // Nor may it remove b's lease.
    a.leases->release();
    CPPUNIT_ASSERT_EQUAL(b.leases->value(), get(b.leases->key_of(drop)));
    // b's keeper keeps it past its first lease.
    std::this_thread::sleep_for(lease * 2);
    CPPUNIT_ASSERT_EQUAL(b.leases->value(), get(b.leases->key_of(drop)));
  }

  void a_session_begun_without_redis_takes_its_lease_when_it_is_back() {
    const milliseconds lease(1200);
    Worker a(server_->address(), "m3:", lease, "node-a");
    Worker b(server_->address(), "m3:", lease, "node-b");
    const std::string drop = "/srv/mail/dave/Maildir";
    server_->stop();
    std::string holder;
    const auto t0 = std::chrono::steady_clock::now();
    CPPUNIT_ASSERT(a.leases->acquire(drop, holder) == LeaseVerdict::kUnchecked);
    CPPUNIT_ASSERT(std::chrono::steady_clock::now() - t0 < milliseconds(2000));
    // Redis cannot say: the file lock decides, and the commit goes on.
    CPPUNIT_ASSERT(a.leases->still_ours());
    CPPUNIT_ASSERT(server_->start());
    // The keeper's next try after its link's reconnect pause.
    std::this_thread::sleep_for(std::chrono::seconds(1) + lease / 3 + milliseconds(400));
    CPPUNIT_ASSERT_EQUAL(a.leases->value(), get(a.leases->key_of(drop)));
    CPPUNIT_ASSERT(b.leases->acquire(drop, holder) == LeaseVerdict::kBusy);
  }

  void leases_and_connection_counts_share_one_keeper() {
    const milliseconds lease(900);
    Worker a(server_->address(), "m4:", lease, "node-a");
    RedisConnectionCounts counts(std::make_shared<RedisLink>(link_to(server_->address()), nullptr),
                                 a.keeper, "m4:", 64, lease, "node-a");
    const IpKey client = *parse_ip_key("192.0.2.4");
    std::string holder;
    CPPUNIT_ASSERT(counts.admit(client, 5) == CountVerdict::kAdmitted);
    CPPUNIT_ASSERT(a.leases->acquire("/srv/mail/erin/Maildir", holder) == LeaseVerdict::kHeld);
    // Past two leases both are still there: the keeper renews each.
    std::this_thread::sleep_for(lease * 2 + milliseconds(200));
    CPPUNIT_ASSERT_EQUAL(a.leases->value(), get(a.leases->key_of("/srv/mail/erin/Maildir")));
    auto card = admin_->command({"ZCARD", counts.key_of(client)});
    CPPUNIT_ASSERT(card.ok() && card->integer == 1);
    // The lease's end leaves the count's renewal running, and the other
    // way round.
    a.leases->release();
    std::this_thread::sleep_for(lease * 2);
    card = admin_->command({"ZCARD", counts.key_of(client)});
    CPPUNIT_ASSERT(card.ok() && card->integer == 1);
    CPPUNIT_ASSERT_EQUAL(std::string("(nil)"), get(a.leases->key_of("/srv/mail/erin/Maildir")));
    counts.end_session();
  }

  void the_store_asks_for_the_lease_first_and_at_commit() {
    Worker a(server_->address(), "m5:", kLongLease, "node-a");
    Worker b(server_->address(), "m5:", kLongLease, "node-b");
    Calls calls;
    CountingStore inner_a(calls), inner_b(calls);
    LeasedMailStore store_a(inner_a, *a.leases), store_b(inner_b, *b.leases);
    const std::string key = a.leases->key_of("alice");
    {
      OpenOutcome on_a = store_a.open(alice());
      CPPUNIT_ASSERT(on_a.status == OpenStatus::kOk && on_a.maildrop);
      CPPUNIT_ASSERT_EQUAL(a.leases->value(), get(key));
      // b is refused by the lease, before its store is asked.
      OpenOutcome on_b = store_b.open(alice());
      CPPUNIT_ASSERT(on_b.status == OpenStatus::kInUse);
      CPPUNIT_ASSERT_EQUAL("maildrop lease held by " + a.leases->value(), on_b.reason);
      CPPUNIT_ASSERT_EQUAL(1, calls.opens);
      const std::vector<bool> one_deleted{true}, none{false};
      CPPUNIT_ASSERT(on_a.maildrop->commit(one_deleted).ok());
      CPPUNIT_ASSERT_EQUAL(1, calls.commits);
      // The lease went to another: no commit that removes anything.
      CPPUNIT_ASSERT(admin_->command({"SET", key, "node-c:1:00", "PX", "60000"}).ok());
      CPPUNIT_ASSERT(!on_a.maildrop->commit(one_deleted, {}).ok());
      CPPUNIT_ASSERT(!on_a.maildrop->commit(none, one_deleted).ok());
      CPPUNIT_ASSERT_EQUAL(1, calls.commits);
      // One that removes nothing is not asked about.
      CPPUNIT_ASSERT(on_a.maildrop->commit(none, none).ok());
      CPPUNIT_ASSERT_EQUAL(2, calls.commits);
      CPPUNIT_ASSERT(admin_->command({"SET", key, a.leases->value(), "PX", "60000"}).ok());
    }
    // The maildrop's end closed the inner one and released the lease.
    CPPUNIT_ASSERT_EQUAL(1, calls.closed);
    CPPUNIT_ASSERT_EQUAL(std::string("(nil)"), get(key));
    // A store that cannot open the maildrop keeps no lease.
    inner_a.status = OpenStatus::kInUse;
    CPPUNIT_ASSERT(store_a.open(alice()).status == OpenStatus::kInUse);
    CPPUNIT_ASSERT_EQUAL(std::string("(nil)"), get(key));
    CPPUNIT_ASSERT(a.leases->value().empty());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RedisMaildropLeasesTest);

}  // namespace pop3d
