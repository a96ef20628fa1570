#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "log/logger.hpp"

namespace pop3d {

class LoggerTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(LoggerTest);
  CPPUNIT_TEST(escape_keeps_lines_single);
  CPPUNIT_TEST(file_target_appends_lines_at_level);
  CPPUNIT_TEST(reopen_after_rename_writes_a_new_file);
  CPPUNIT_TEST(failed_reopen_keeps_the_old_file_and_says_so_once);
  CPPUNIT_TEST(reopen_of_other_targets_does_nothing);
  CPPUNIT_TEST(follow_renames_reopens_without_a_request);
  CPPUNIT_TEST_SUITE_END();

  static std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  static size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  // A directory of the test's own, so that the log path can be renamed
  // away and replaced as logrotate does.
  struct TempDir {
    std::string path;
    TempDir() {
      char name[] = "/tmp/pop3d-logdir-XXXXXX";
      CPPUNIT_ASSERT(::mkdtemp(name) != nullptr);
      path = name;
    }
    ~TempDir() {
      // Back to stderr first: the logger must not hold files of the test.
      (void)Logger::instance().configure("stderr", LogLevel::kInfo);
      for (const char* leaf : {"/pop3d.log", "/pop3d.log.1"}) {
        const std::string p = path + leaf;
        if (::unlink(p.c_str()) < 0) ::rmdir(p.c_str());
      }
      ::rmdir(path.c_str());
    }
  };

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

  void reopen_after_rename_writes_a_new_file() {
    TempDir dir;
    const std::string log = dir.path + "/pop3d.log";
    const std::string rotated = log + ".1";
    Logger& logger = Logger::instance();
    CPPUNIT_ASSERT(logger.configure(log, LogLevel::kInfo).ok());
    log_info("before the rotation");
    CPPUNIT_ASSERT_EQUAL(0, std::rename(log.c_str(), rotated.c_str()));
    log_info("renamed, not yet told");
    // What the signal handler does; the next line does the reopen.
    Logger::request_reopen();
    log_info("after the rotation");
    log_info("and one more");
    const std::string old_text = read_all(rotated);
    const std::string new_text = read_all(log);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count(old_text, "info: before the rotation\n"));
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count(old_text, "info: renamed, not yet told\n"));
    CPPUNIT_ASSERT_EQUAL(size_t{0}, count(old_text, "after the rotation"));
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count(new_text, "info: after the rotation\n"));
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count(new_text, "info: and one more\n"));
    CPPUNIT_ASSERT_EQUAL(size_t{0}, count(new_text, "before the rotation"));
    // The new file is made as the first one is, not world-readable.
    struct stat st {};
    CPPUNIT_ASSERT_EQUAL(0, ::stat(log.c_str(), &st));
    CPPUNIT_ASSERT_EQUAL(0, static_cast<int>(st.st_mode & 007));
    // A request is served once: no reopen without a new one.
    CPPUNIT_ASSERT(!logger.reopen_if_requested());
  }

  void failed_reopen_keeps_the_old_file_and_says_so_once() {
    TempDir dir;
    const std::string log = dir.path + "/pop3d.log";
    const std::string rotated = log + ".1";
    Logger& logger = Logger::instance();
    CPPUNIT_ASSERT(logger.configure(log, LogLevel::kInfo).ok());
    log_info("first");
    CPPUNIT_ASSERT_EQUAL(0, std::rename(log.c_str(), rotated.c_str()));
    // The path cannot be opened for writing any more.
    CPPUNIT_ASSERT_EQUAL(0, ::mkdir(log.c_str(), 0700));
    Logger::request_reopen();
    log_info("second");
    Logger::request_reopen();
    CPPUNIT_ASSERT(!logger.reopen_if_requested());
    log_info("third");
    std::string old_text = read_all(rotated);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count(old_text, "info: first\n"));
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count(old_text, "info: second\n"));
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count(old_text, "info: third\n"));
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count(old_text,
                                          "error: cannot reopen the log file, still writing to the "
                                          "old one: log.target: cannot open log file " +
                                              log));
    // Once the path can be opened again, the next request succeeds, and a
    // later failure is said again.
    CPPUNIT_ASSERT_EQUAL(0, ::rmdir(log.c_str()));
    Logger::request_reopen();
    CPPUNIT_ASSERT(logger.reopen_if_requested());
    log_info("fourth");
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count(read_all(log), "info: fourth\n"));
    CPPUNIT_ASSERT_EQUAL(size_t{0}, count(read_all(rotated), "fourth"));
  }

  void follow_renames_reopens_without_a_request() {
    TempDir dir;
    const std::string log = dir.path + "/pop3d.log";
    const std::string rotated = log + ".1";
    Logger& logger = Logger::instance();
    logger.set_follow_renames(true);
    CPPUNIT_ASSERT(logger.configure(log, LogLevel::kInfo).ok());
    log_info("one");
    CPPUNIT_ASSERT_EQUAL(0, std::rename(log.c_str(), rotated.c_str()));
    // Renamed, and nothing at the path yet: the old file it is.
    log_info("two");
    // logrotate's create: a new file at the path.
    ::close(::open(log.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640));
    log_info("three");
    logger.set_follow_renames(false);
    const std::string old_text = read_all(rotated);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count(old_text, "info: one\n"));
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count(old_text, "info: two\n"));
    CPPUNIT_ASSERT_EQUAL(size_t{0}, count(old_text, "three"));
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count(read_all(log), "info: three\n"));
  }

  void reopen_of_other_targets_does_nothing() {
    Logger& logger = Logger::instance();
    CPPUNIT_ASSERT(logger.configure("stderr", LogLevel::kInfo).ok());
    Logger::request_reopen();
    CPPUNIT_ASSERT(!logger.reopen_if_requested());
    CPPUNIT_ASSERT(logger.reopen().ok());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(LoggerTest);

}  // namespace pop3d
