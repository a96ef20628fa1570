#include <cppunit/extensions/HelperMacros.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "daemon/master.hpp"
#include "daemon/pid_file.hpp"
#include "daemon/privileges.hpp"

namespace pop3d {

class DaemonTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(DaemonTest);
  CPPUNIT_TEST(restart_only_settings_are_kept_and_named);
  CPPUNIT_TEST(pid_file_written_and_removed);
  CPPUNIT_TEST(pid_file_refuses_live_daemon);
  CPPUNIT_TEST(unknown_service_user_is_named);
  CPPUNIT_TEST_SUITE_END();

  std::string dir_;

 public:
  void setUp() override {
    char tmpl[] = "/tmp/pop3d-daemon-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void tearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  void restart_only_settings_are_kept_and_named() {
    Settings running;
    Settings next;
    next.pop3.port = 1110;
    next.pop3.max_connections = 7;
    next.general.user = "other";
    const auto changed = keep_restart_only_settings(running, next);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, changed.size());
    CPPUNIT_ASSERT_EQUAL(std::string("pop3.port"), changed[0]);
    CPPUNIT_ASSERT_EQUAL(std::string("general.user"), changed[1]);
    CPPUNIT_ASSERT_EQUAL(110, next.pop3.port);           // kept
    CPPUNIT_ASSERT_EQUAL(7, next.pop3.max_connections);  // applied
  }

  void pid_file_written_and_removed() {
    const std::string path = dir_ + "/run/pop3d.pid";
    {
      auto pid_file = PidFile::create(path, std::nullopt, std::nullopt);
      CPPUNIT_ASSERT_MESSAGE(pid_file.ok() ? "" : pid_file.error().message, pid_file.ok());
      CPPUNIT_ASSERT(PidFile::read(path).has_value());
      CPPUNIT_ASSERT_EQUAL(::getpid(), *PidFile::read(path));
    }
    CPPUNIT_ASSERT(::access(path.c_str(), F_OK) != 0);
  }

  void pid_file_refuses_live_daemon() {
    const std::string path = dir_ + "/pop3d.pid";
    std::ofstream(path) << ::getppid() << "\n";  // a live process
    auto again = PidFile::create(path, std::nullopt, std::nullopt);
    CPPUNIT_ASSERT(!again.ok());
    CPPUNIT_ASSERT(again.error().message.find("already running") != std::string::npos);
    std::ofstream(path) << "999999999\n";  // stale: no such process
    CPPUNIT_ASSERT(PidFile::create(path, std::nullopt, std::nullopt).ok());
  }

  void unknown_service_user_is_named() {
    auto r = lookup_service_account("no-such-user-pop3d", "no-such-group");
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT(r.error().message.find("no-such-user-pop3d") != std::string::npos);
    CPPUNIT_ASSERT(r.error().message.find("general.user") != std::string::npos);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DaemonTest);

}  // namespace pop3d
