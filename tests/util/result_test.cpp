#include <cppunit/extensions/HelperMacros.h>

#include <cerrno>

#include "util/result.hpp"
#include "util/unique_fd.hpp"

#include <fcntl.h>

namespace pop3d {

class ResultTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ResultTest);
  CPPUNIT_TEST(value_and_error_are_distinct);
  CPPUNIT_TEST(errno_message_names_the_call);
  CPPUNIT_TEST(unique_fd_closes_on_scope_exit);
  CPPUNIT_TEST_SUITE_END();

 public:
  void value_and_error_are_distinct() {
    Result<int> good(42);
    CPPUNIT_ASSERT(good.ok());
    CPPUNIT_ASSERT_EQUAL(42, *good);
    Result<int> bad(Error{"broken", 0});
    CPPUNIT_ASSERT(!bad.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("broken"), bad.error().message);
    Status fine;
    CPPUNIT_ASSERT(fine.ok());
  }

  void errno_message_names_the_call() {
    Error e = Error::from_errno("open /nowhere", ENOENT);
    CPPUNIT_ASSERT_EQUAL(ENOENT, e.sys_errno);
    CPPUNIT_ASSERT(e.message.find("open /nowhere: ") == 0);
    CPPUNIT_ASSERT(e.message.find("No such file") != std::string::npos);
  }

  void unique_fd_closes_on_scope_exit() {
    int raw;
    {
      UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      CPPUNIT_ASSERT(fd.valid());
      raw = fd.get();
      UniqueFd moved = std::move(fd);
      CPPUNIT_ASSERT(!fd.valid());
      CPPUNIT_ASSERT_EQUAL(raw, moved.get());
    }
    CPPUNIT_ASSERT_EQUAL(-1, ::fcntl(raw, F_GETFD));
    CPPUNIT_ASSERT_EQUAL(EBADF, errno);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ResultTest);

}  // namespace pop3d
