#include <cppunit/extensions/HelperMacros.h>

#include "auth/login_cache.hpp"

namespace pop3d {

class LoginCacheTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(LoginCacheTest);
  CPPUNIT_TEST(remembers_only_the_exact_triple);
  CPPUNIT_TEST(entries_expire);
  CPPUNIT_TEST(capacity_is_bounded);
  CPPUNIT_TEST(zero_ttl_disables);
  CPPUNIT_TEST_SUITE_END();

  using Clock = LoginCache::Clock;

 public:
  void remembers_only_the_exact_triple() {
    LoginCache cache(std::chrono::seconds(60), 16);
    const auto now = Clock::now();
    CPPUNIT_ASSERT(!cache.contains("alice", "{PLAIN}s", "secret", now));
    cache.remember("alice", "{PLAIN}s", "secret", now);
    CPPUNIT_ASSERT(cache.contains("alice", "{PLAIN}s", "secret", now));
    CPPUNIT_ASSERT(!cache.contains("alice", "{PLAIN}s", "Secret", now));
    CPPUNIT_ASSERT(!cache.contains("bob", "{PLAIN}s", "secret", now));
    // A changed password in the file retires the entry.
    CPPUNIT_ASSERT(!cache.contains("alice", "{PLAIN}t", "secret", now));
    // Field boundaries matter: ("alic", "e...") is another triple.
    CPPUNIT_ASSERT(!cache.contains("alic", "e{PLAIN}s", "secret", now));
  }

  void entries_expire() {
    LoginCache cache(std::chrono::seconds(60), 16);
    const auto now = Clock::now();
    cache.remember("alice", "x", "pw", now);
    CPPUNIT_ASSERT(cache.contains("alice", "x", "pw", now + std::chrono::seconds(59)));
    CPPUNIT_ASSERT(!cache.contains("alice", "x", "pw", now + std::chrono::seconds(60)));
  }

  void capacity_is_bounded() {
    LoginCache cache(std::chrono::seconds(60), 8);
    const auto now = Clock::now();
    for (int i = 0; i < 100; ++i) cache.remember("u" + std::to_string(i), "x", "pw", now);
    CPPUNIT_ASSERT(cache.size() <= 8);
    CPPUNIT_ASSERT(cache.contains("u99", "x", "pw", now));
  }

  void zero_ttl_disables() {
    LoginCache cache(std::chrono::seconds(0), 8);
    cache.remember("alice", "x", "pw");
    CPPUNIT_ASSERT(!cache.contains("alice", "x", "pw"));
    CPPUNIT_ASSERT_EQUAL(size_t{0}, cache.size());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(LoginCacheTest);

}  // namespace pop3d
