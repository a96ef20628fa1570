#include <cppunit/extensions/HelperMacros.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "security/anti_hammer_table.hpp"

namespace pop3d {

namespace {

IpKey ip(const char* text) {
  return *parse_ip_key(text);
}

IpKey v4_number(uint32_t n) {
  IpKey k{};
  k[10] = k[11] = 0xff;
  k[12] = static_cast<uint8_t>(n >> 24);
  k[13] = static_cast<uint8_t>(n >> 16);
  k[14] = static_cast<uint8_t>(n >> 8);
  k[15] = static_cast<uint8_t>(n);
  return k;
}

}  // namespace

class AntiHammerTableTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(AntiHammerTableTest);
  CPPUNIT_TEST(blocks_at_max_failures_and_expires);
  CPPUNIT_TEST(failures_are_forgotten_after_timeout);
  CPPUNIT_TEST(ipv6_counted_by_prefix);
  CPPUNIT_TEST(unblock_lifts_block);
  CPPUNIT_TEST(spraying_cannot_evict_live_blocks);
  CPPUNIT_TEST(failures_from_many_processes_make_one_block);
  CPPUNIT_TEST(dead_lock_holder_does_not_wedge_others);
  CPPUNIT_TEST(file_table_is_shared_with_open);
  CPPUNIT_TEST_SUITE_END();

  AntiHammerPolicy policy_{3, 600, 1800, 64};

  AntiHammerTable make(size_t slots = 256) {
    auto t = AntiHammerTable::create_anonymous(slots);
    CPPUNIT_ASSERT(t.ok());
    return std::move(*t);
  }

 public:
  void blocks_at_max_failures_and_expires() {
    auto t = make();
    const IpKey a = ip("192.0.2.1");
    CPPUNIT_ASSERT(!t.record_failure(a, policy_, 1000));
    CPPUNIT_ASSERT(!t.record_failure(a, policy_, 1001));
    CPPUNIT_ASSERT(!t.is_blocked(a, policy_, 1001));
    CPPUNIT_ASSERT(t.record_failure(a, policy_, 1002));
    CPPUNIT_ASSERT(t.is_blocked(a, policy_, 1002));
    CPPUNIT_ASSERT(!t.is_blocked(ip("192.0.2.2"), policy_, 1002));
    CPPUNIT_ASSERT(t.is_blocked(a, policy_, 1002 + 1799));
    CPPUNIT_ASSERT(!t.is_blocked(a, policy_, 1002 + 1800));  // ends by itself
    auto list = t.blocked(policy_, 1100);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, list.size());
    CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.1"), list[0].address);
    CPPUNIT_ASSERT_EQUAL(int64_t{1702}, list[0].seconds_left);
  }

  void failures_are_forgotten_after_timeout() {
    auto t = make();
    const IpKey a = ip("192.0.2.1");
    t.record_failure(a, policy_, 1000);
    t.record_failure(a, policy_, 1001);
    // 600 s without a new failure: the count starts again.
    CPPUNIT_ASSERT(!t.record_failure(a, policy_, 1601));
    CPPUNIT_ASSERT(!t.record_failure(a, policy_, 1602));
    CPPUNIT_ASSERT(t.record_failure(a, policy_, 1603));
  }

  void ipv6_counted_by_prefix() {
    auto t = make();
    t.record_failure(ip("2001:db8:1:2::1"), policy_, 10);
    t.record_failure(ip("2001:db8:1:2::2"), policy_, 11);
    CPPUNIT_ASSERT(t.record_failure(ip("2001:db8:1:2:ffff::9"), policy_, 12));
    CPPUNIT_ASSERT(t.is_blocked(ip("2001:db8:1:2::abcd"), policy_, 13));
    CPPUNIT_ASSERT(!t.is_blocked(ip("2001:db8:1:3::1"), policy_, 13));
    CPPUNIT_ASSERT_EQUAL(std::string("2001:db8:1:2::/64"), t.blocked(policy_, 13)[0].address);
  }

  void unblock_lifts_block() {
    auto t = make();
    const IpKey a = ip("198.51.100.7");
    for (int i = 0; i < 3; ++i) t.record_failure(a, policy_, AntiHammerTable::now());
    CPPUNIT_ASSERT(t.is_blocked(a, policy_, AntiHammerTable::now()));
    CPPUNIT_ASSERT(t.unblock(a, policy_));
    CPPUNIT_ASSERT(!t.is_blocked(a, policy_, AntiHammerTable::now()));
    CPPUNIT_ASSERT(!t.unblock(a, policy_));
  }

  void spraying_cannot_evict_live_blocks() {
    auto t = make(32);
    const IpKey victim = ip("203.0.113.9");
    for (int i = 0; i < 3; ++i) t.record_failure(victim, policy_, 100);
    for (uint32_t n = 1; n < 5000; ++n) t.record_failure(v4_number(0x0a000000 + n), policy_, 101);
    CPPUNIT_ASSERT(t.is_blocked(victim, policy_, 102));
    CPPUNIT_ASSERT(t.pressure_events() > 0);
  }

  void failures_from_many_processes_make_one_block() {
    AntiHammerPolicy policy{20, 600, 1800, 64};
    auto t = make();
    const IpKey a = ip("192.0.2.50");
    std::vector<pid_t> children;
    for (int c = 0; c < 4; ++c) {
      const pid_t pid = ::fork();
      if (pid == 0) {
        for (int i = 0; i < 5; ++i) t.record_failure(a, policy, 500);
        ::_exit(0);
      }
      children.push_back(pid);
    }
    for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
    CPPUNIT_ASSERT(t.is_blocked(a, policy, 501));  // 4 x 5 = 20 failures
    CPPUNIT_ASSERT_EQUAL(20, t.blocked(policy, 501)[0].failures);
  }

  void dead_lock_holder_does_not_wedge_others() {
    auto t = make();
    const pid_t pid = ::fork();
    if (pid == 0) {
      t.lock_and_abandon_for_test();
      ::_exit(0);  // dies holding the lock
    }
    ::waitpid(pid, nullptr, 0);
    const pid_t checker = ::fork();
    if (checker == 0) {
      ::alarm(5);  // a wedged lock would hang: fail instead
      t.record_failure(ip("192.0.2.1"), policy_, 1);
      ::_exit(t.blocked(policy_, 1).empty() ? 0 : 1);
    }
    int status = 0;
    ::waitpid(checker, &status, 0);
    CPPUNIT_ASSERT(WIFEXITED(status));
    CPPUNIT_ASSERT_EQUAL(0, WEXITSTATUS(status));
  }

  void file_table_is_shared_with_open() {
    char tmpl[] = "/tmp/pop3d-ah-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    const std::string path = dir + "/table";
    auto owner = AntiHammerTable::create(path, 64);
    CPPUNIT_ASSERT(owner.ok());
    for (int i = 0; i < 3; ++i) owner->record_failure(ip("192.0.2.3"), policy_, 50);
    auto reader = AntiHammerTable::open(path);
    CPPUNIT_ASSERT(reader.ok());
    CPPUNIT_ASSERT(reader->is_blocked(ip("192.0.2.3"), policy_, 51));
    CPPUNIT_ASSERT(!AntiHammerTable::open(dir + "/missing").ok());
    std::system(("rm -rf '" + dir + "'").c_str());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AntiHammerTableTest);

}  // namespace pop3d
