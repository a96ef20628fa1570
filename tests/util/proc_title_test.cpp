#include <cppunit/extensions/HelperMacros.h>

#include <cstring>
#include <string>

#include "util/proc_title.hpp"

namespace pop3d {

namespace {

// Lives as long as the process: set_proc_title keeps writing here after
// the test that pointed it here.
char g_fake_argv[64];

}  // namespace

class ProcTitleTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ProcTitleTest);
  CPPUNIT_TEST(idle_worker);
  CPPUNIT_TEST(worker_shows_user_and_address_when_verbose);
  CPPUNIT_TEST(quiet_titles_hide_user_and_address);
  CPPUNIT_TEST(unprintable_bytes_never_reach_the_title);
  CPPUNIT_TEST(title_overwrites_argv_and_is_cut_to_its_room);
  CPPUNIT_TEST_SUITE_END();

 public:
  void idle_worker() {
    CPPUNIT_ASSERT_EQUAL(std::string("worker [idle]"), worker_title({}, true));
    CPPUNIT_ASSERT_EQUAL(std::string("worker [idle]"), worker_title({}, false));
  }

  void worker_shows_user_and_address_when_verbose() {
    using State = WorkerActivity::State;
    CPPUNIT_ASSERT_EQUAL(std::string("worker [192.0.2.10 AUTHORIZATION]"),
                         worker_title({State::kAuthorization, "", "192.0.2.10"}, true));
    CPPUNIT_ASSERT_EQUAL(std::string("worker [alice 192.0.2.10 TRANSACTION]"),
                         worker_title({State::kTransaction, "alice", "192.0.2.10"}, true));
    CPPUNIT_ASSERT_EQUAL(std::string("agent [alice]"), agent_title("alice", true));
  }

  void quiet_titles_hide_user_and_address() {
    using State = WorkerActivity::State;
    CPPUNIT_ASSERT_EQUAL(std::string("worker [TRANSACTION]"),
                         worker_title({State::kTransaction, "alice", "192.0.2.10"}, false));
    CPPUNIT_ASSERT_EQUAL(std::string("worker [AUTHORIZATION]"),
                         worker_title({State::kAuthorization, "", "2001:db8::1"}, false));
    CPPUNIT_ASSERT_EQUAL(std::string("agent"), agent_title("alice", false));
  }

  void unprintable_bytes_never_reach_the_title() {
    using State = WorkerActivity::State;
    CPPUNIT_ASSERT_EQUAL(std::string("worker [a?b\?\?c 10.0.0.1 TRANSACTION]"),
                         worker_title({State::kTransaction,
                                       "a\nb\x1b\xc3"
                                       "c",
                                       "10.0.0.1"},
                                      true));
  }

  void title_overwrites_argv_and_is_cut_to_its_room() {
    // argv as the kernel lays it out: the strings back to back.
    std::memset(g_fake_argv, 'x', sizeof g_fake_argv);
    // 31 bytes with the last NUL.
    std::memcpy(g_fake_argv, "pop3d\0-c\0/etc/pop3d/pop3d.conf", 31);
    char* argv[] = {g_fake_argv, g_fake_argv + 6, g_fake_argv + 9, nullptr};
    init_proc_title(3, argv);
    set_proc_title("master");
    CPPUNIT_ASSERT_EQUAL(std::string("pop3d: master"), std::string(g_fake_argv));
    // Nothing of the old command line trails the shorter title.
    for (size_t i = 13; i < 31; ++i) CPPUNIT_ASSERT_EQUAL('\0', g_fake_argv[i]);
    // Past the area nothing is touched.
    CPPUNIT_ASSERT_EQUAL('x', g_fake_argv[31]);
    set_proc_title("worker [alice 192.0.2.10 TRANSACTION] and more than fits");
    CPPUNIT_ASSERT_EQUAL(size_t{30}, std::strlen(g_fake_argv));
    CPPUNIT_ASSERT_EQUAL(std::string("pop3d: worker [alice 192.0.2.1"), std::string(g_fake_argv));
    CPPUNIT_ASSERT_EQUAL('x', g_fake_argv[31]);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ProcTitleTest);

}  // namespace pop3d
