#include <cppunit/extensions/HelperMacros.h>

#include "sharedstate/redis_endpoint.hpp"
#include "sharedstate/redis_link.hpp"
#include "sharedstate/shared_state_config.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

namespace pop3d {

class RedisEndpointTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(RedisEndpointTest);
  CPPUNIT_TEST(host_port_v6_and_unix);
  CPPUNIT_TEST(bad_values_are_refused);
  CPPUNIT_TEST(a_bad_value_names_the_setting);
  CPPUNIT_TEST(password_file_password_or_user_and_password);
  CPPUNIT_TEST_SUITE_END();

 public:
  void host_port_v6_and_unix() {
    auto a = RedisEndpoint::parse("127.0.0.1:6379");
    CPPUNIT_ASSERT(a.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), a->host);
    CPPUNIT_ASSERT_EQUAL(6379, a->port);
    auto b = RedisEndpoint::parse("[::1]:7000");
    CPPUNIT_ASSERT(b.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("::1"), b->host);
    CPPUNIT_ASSERT_EQUAL(7000, b->port);
    auto c = RedisEndpoint::parse("unix:/run/redis/redis.sock");
    CPPUNIT_ASSERT(c.ok());
    CPPUNIT_ASSERT(c->is_unix());
    CPPUNIT_ASSERT_EQUAL(std::string("/run/redis/redis.sock"), c->unix_path);
    CPPUNIT_ASSERT(RedisEndpoint::parse("redis.example.org:6380").ok());
  }

  void bad_values_are_refused() {
    for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                            "127.0.0.1:63x", "::1:6379", "[::1]6379", "[nothost]:1",
                            "unix:", "unix:relative/path", "bad host:1", "[::1]:"}) {
      CPPUNIT_ASSERT_MESSAGE(bad, !RedisEndpoint::parse(bad).ok());
    }
    CPPUNIT_ASSERT(!RedisEndpoint::parse("unix:/" + std::string(200, 'x')).ok());
  }

  void a_bad_value_names_the_setting() {
    Settings s;
    s.general.shared_state.redis = "localhost";
    std::vector<std::string> warnings;
    auto c = load_shared_state_config(s, nullptr, warnings);
    CPPUNIT_ASSERT(!c.ok());
    CPPUNIT_ASSERT(c.error().message.find("general.shared_state.redis") != std::string::npos);
  }

  void password_file_password_or_user_and_password() {
    char path[] = "/tmp/pop3d-redis-pw-XXXXXX";
    const int fd = ::mkstemp(path);
    CPPUNIT_ASSERT(fd >= 0);
    CPPUNIT_ASSERT(::write(fd, "s3cret\nignored\n", 15) == 15);
    auto one = read_redis_credentials(path);
    CPPUNIT_ASSERT(one.ok());
    CPPUNIT_ASSERT(one->user.empty());
    CPPUNIT_ASSERT(one->password.view() == "s3cret");
    CPPUNIT_ASSERT(::ftruncate(fd, 0) == 0);
    CPPUNIT_ASSERT(::pwrite(fd, "pop3d pass word\r\n", 17, 0) == 17);
    auto two = read_redis_credentials(path);
    CPPUNIT_ASSERT(two.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("pop3d"), two->user);
    CPPUNIT_ASSERT(two->password.view() == "pass word");
    CPPUNIT_ASSERT(::ftruncate(fd, 0) == 0);
    CPPUNIT_ASSERT(::pwrite(fd, "\n", 1, 0) == 1);
    CPPUNIT_ASSERT(!read_redis_credentials(path).ok());
    ::close(fd);
    ::unlink(path);
    CPPUNIT_ASSERT(!read_redis_credentials(path).ok());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RedisEndpointTest);

}  // namespace pop3d
