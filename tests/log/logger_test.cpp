#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "log/logger.hpp"

namespace pop3d {

class LoggerTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(LoggerTest);
  CPPUNIT_TEST(escape_keeps_lines_single);
  CPPUNIT_TEST(file_target_appends_lines_at_level);
  CPPUNIT_TEST_SUITE_END();

 public:
  void escape_keeps_lines_single() {
    CPPUNIT_ASSERT_EQUAL(std::string("a\\x0d\\x0ab"), log_escape("a\r\nb"));
    CPPUNIT_ASSERT_EQUAL(std::string("\\x5c"), log_escape("\\"));
    CPPUNIT_ASSERT_EQUAL(std::string("abc..."), log_escape("abcdef", 3));
  }

  void file_target_appends_lines_at_level() {
    char path[] = "/tmp/pop3d-log-XXXXXX";
    int fd = ::mkstemp(path);
    CPPUNIT_ASSERT(fd >= 0);
    ::close(fd);
    Logger& logger = Logger::instance();
    CPPUNIT_ASSERT(logger.configure(path, LogLevel::kInfo).ok());
    log_info("first line");
    log_debug("not shown");
    log_error("second line");
    CPPUNIT_ASSERT(logger.configure("stderr", LogLevel::kInfo).ok());
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    ::unlink(path);
    const std::string s = text.str();
    CPPUNIT_ASSERT(s.find("info: first line\n") != std::string::npos);
    CPPUNIT_ASSERT(s.find("error: second line\n") != std::string::npos);
    CPPUNIT_ASSERT(s.find("not shown") == std::string::npos);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(LoggerTest);

}  // namespace pop3d
