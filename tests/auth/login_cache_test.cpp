#include <cppunit/extensions/HelperMacros.h>

#include <sys/wait.h>
#include <unistd.h>

#include "auth/login_cache.hpp"

namespace pop3d {

class LoginCacheTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(LoginCacheTest);
  CPPUNIT_TEST(remembers_only_the_exact_triple);
  CPPUNIT_TEST(entries_expire);
  CPPUNIT_TEST(capacity_is_bounded);
  CPPUNIT_TEST(zero_ttl_disables);
  CPPUNIT_TEST(digests_stay_stable_across_many_logins);
  CPPUNIT_TEST(cache_made_before_fork_works_in_the_child);
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

  // The MAC context is keyed once and re-initialised for every digest: a
  // re-initialisation that kept state from the last message would make
  // every lookup miss.
  void digests_stay_stable_across_many_logins() {
    LoginCache cache(std::chrono::seconds(60), 1024);
    const auto now = Clock::now();
    for (int i = 0; i < 200; ++i) cache.remember("u" + std::to_string(i), "x", "pw", now);
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < 200; ++i) {
        const std::string user = "u" + std::to_string(i);
        CPPUNIT_ASSERT(cache.contains(user, "x", "pw", now));
        CPPUNIT_ASSERT(!cache.contains(user, "x", "pW", now));
      }
    }
  }

  // The daemon builds the cache in the master and uses it in workers.
  void cache_made_before_fork_works_in_the_child() {
    LoginCache cache(std::chrono::seconds(60), 16);
    const auto now = Clock::now();
    cache.remember("alice", "x", "pw", now);
    const pid_t pid = ::fork();
    CPPUNIT_ASSERT(pid >= 0);
    if (pid == 0) {
      cache.remember("bob", "y", "pw2", now);
      const bool ok = cache.contains("alice", "x", "pw", now) &&
                      cache.contains("bob", "y", "pw2", now) &&
                      !cache.contains("bob", "y", "pw", now);
      ::_exit(ok ? 0 : 1);
    }
    int status = 0;
    CPPUNIT_ASSERT_EQUAL(pid, ::waitpid(pid, &status, 0));
    CPPUNIT_ASSERT(WIFEXITED(status));
    CPPUNIT_ASSERT_EQUAL(0, WEXITSTATUS(status));
    CPPUNIT_ASSERT(!cache.contains("bob", "y", "pw2", now));  // the child's own
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(LoginCacheTest);

}  // namespace pop3d
