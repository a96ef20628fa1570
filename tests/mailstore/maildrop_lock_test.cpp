// MaildropLock beside Dovecot: pop3d takes Dovecot's session lock as well
// as its own, respects a live one, breaks a dead one, and never removes a
// lock that is no longer its own.
#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>

#include "maildir_test_util.hpp"
#include "mailstore/maildrop_lock.hpp"

namespace pop3d {

namespace {

std::string host() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// A process that lives until killed: a live holder on this host.
class LiveProcess {
 public:
  LiveProcess() : pid_(::fork()) {
    if (pid_ == 0) {
      ::pause();
      ::_exit(0);
    }
  }
  ~LiveProcess() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

// A child that has exited and is not reaped until this object goes.
class ZombieProcess {
 public:
  ZombieProcess() : pid_(::fork()) {
    if (pid_ == 0) ::_exit(0);
    // Wait for the exit without reaping it.
    siginfo_t info{};
    ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT);
  }
  ~ZombieProcess() { ::waitpid(pid_, nullptr, 0); }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

}  // namespace

class MaildropLockTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MaildropLockTest);
  CPPUNIT_TEST(takes_dovecots_session_lock_too);
  CPPUNIT_TEST(a_live_dovecot_session_keeps_pop3d_out);
  CPPUNIT_TEST(dead_or_own_leftovers_are_broken);
  CPPUNIT_TEST(a_zombies_lock_is_broken);
  CPPUNIT_TEST(a_holder_killed_while_locking_leaves_no_empty_lock);
  CPPUNIT_TEST(an_old_lock_from_another_host_is_broken_a_fresh_one_stands);
  CPPUNIT_TEST(a_missing_control_dir_needs_no_dovecot_lock);
  CPPUNIT_TEST(a_lock_taken_over_by_another_is_left_to_it);
  CPPUNIT_TEST_SUITE_END();

 public:
  void setUp() override {
    root_ = UniqueFd(::open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }

  std::string dovecot_lock() const { return dir_ / kDovecotSessionLockFile; }

  void takes_dovecots_session_lock_too() {
    {
      Result<MaildropLock> lock = MaildropLock::acquire(root_.get(), dir_.path());
      CPPUNIT_ASSERT(lock.ok());
      // What Dovecot writes, so that Dovecot can tell whether we live.
      CPPUNIT_ASSERT_EQUAL(std::to_string(::getpid()) + ":" + host(),
                           testing::read_file(dovecot_lock()));
      // A second session of pop3d's own is refused by the flock.
      Result<MaildropLock> second = MaildropLock::acquire(root_.get(), dir_.path());
      CPPUNIT_ASSERT(!second.ok());
      CPPUNIT_ASSERT_EQUAL(EWOULDBLOCK, second.error().sys_errno);
      // ...and that refusal did not remove the first session's lock.
      CPPUNIT_ASSERT(testing::exists(dovecot_lock()));
    }
    CPPUNIT_ASSERT(!testing::exists(dovecot_lock()));
  }

  void a_live_dovecot_session_keeps_pop3d_out() {
    LiveProcess dovecot;
    testing::write_file(dovecot_lock(), std::to_string(dovecot.pid()) + ":" + host());
    Result<MaildropLock> lock = MaildropLock::acquire(root_.get(), dir_.path());
    CPPUNIT_ASSERT(!lock.ok());
    CPPUNIT_ASSERT_EQUAL(EWOULDBLOCK, lock.error().sys_errno);
    CPPUNIT_ASSERT(lock.error().message.find("Dovecot") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL(std::to_string(dovecot.pid()) + ":" + host(),
                         testing::read_file(dovecot_lock()));
    // The refusal let pop3d's own lock go again.
    ::unlink(dovecot_lock().c_str());
    CPPUNIT_ASSERT(MaildropLock::acquire(root_.get(), dir_.path()).ok());
  }

  void dead_or_own_leftovers_are_broken() {
    for (const pid_t pid : {dead_pid(), ::getpid()}) {
      testing::write_file(dovecot_lock(), std::to_string(pid) + ":" + host());
      Result<MaildropLock> lock = MaildropLock::acquire(root_.get(), dir_.path());
      CPPUNIT_ASSERT(lock.ok());
      CPPUNIT_ASSERT_EQUAL(std::to_string(::getpid()) + ":" + host(),
                           testing::read_file(dovecot_lock()));
    }
  }

  // A killed master's mail agents may stay zombies for good (a PID 1 that
  // does not reap): their locks must not keep the users out.
  void a_zombies_lock_is_broken() {
    ZombieProcess zombie;
    LiveProcess live;
    testing::write_file(dovecot_lock(), std::to_string(live.pid()) + ":" + host());
    CPPUNIT_ASSERT(!MaildropLock::acquire(root_.get(), dir_.path()).ok());
    testing::write_file(dovecot_lock(), std::to_string(zombie.pid()) + ":" + host());
    Result<MaildropLock> lock = MaildropLock::acquire(root_.get(), dir_.path());
    CPPUNIT_ASSERT(lock.ok());
    CPPUNIT_ASSERT_EQUAL(std::to_string(::getpid()) + ":" + host(),
                         testing::read_file(dovecot_lock()));
  }

  // SIGKILLs that land while a process takes the lock: whatever is left
  // names its holder, so the next session breaks it at once. An empty
  // lock would stand for an hour (kDovecotSessionLockStale).
  void a_holder_killed_while_locking_leaves_no_empty_lock() {
    for (int round = 0; round < 40; ++round) {
      const pid_t child = ::fork();
      if (child == 0) {
        for (;;) {
          auto d = DovecotDotlock::acquire(dovecot_lock(), kDovecotSessionLockStale,
                                           std::chrono::milliseconds(0));
          (void)d;
        }
      }
      ::usleep(static_cast<useconds_t>(200 + (round * 97) % 1500));
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
      if (testing::exists(dovecot_lock())) {
        CPPUNIT_ASSERT_EQUAL(std::to_string(child) + ":" + host(),
                             testing::read_file(dovecot_lock()));
      }
      Result<MaildropLock> lock = MaildropLock::acquire(root_.get(), dir_.path());
      CPPUNIT_ASSERT(lock.ok());
    }
  }

  void an_old_lock_from_another_host_is_broken_a_fresh_one_stands() {
    testing::write_file(dovecot_lock(), "1:some-other-host");
    CPPUNIT_ASSERT(!MaildropLock::acquire(root_.get(), dir_.path()).ok());
    const time_t old = ::time(nullptr) - kDovecotSessionLockStale.count() - 60;
    const timespec times[2] = {{old, 0}, {old, 0}};
    CPPUNIT_ASSERT_EQUAL(0, ::utimensat(AT_FDCWD, dovecot_lock().c_str(), times, 0));
    CPPUNIT_ASSERT(MaildropLock::acquire(root_.get(), dir_.path()).ok());
  }

  void a_missing_control_dir_needs_no_dovecot_lock() {
    Result<MaildropLock> lock = MaildropLock::acquire(root_.get(), dir_ / "control-not-made");
    CPPUNIT_ASSERT(lock.ok());
    CPPUNIT_ASSERT(!testing::exists(dir_ / "control-not-made"));
  }

  void a_lock_taken_over_by_another_is_left_to_it() {
    {
      Result<MaildropLock> lock = MaildropLock::acquire(root_.get(), dir_.path());
      CPPUNIT_ASSERT(lock.ok());
      // Someone judged ours stale and put theirs in its place.
      ::unlink(dovecot_lock().c_str());
      testing::write_file(dovecot_lock(), "4242:some-other-host");
    }
    CPPUNIT_ASSERT_EQUAL(std::string("4242:some-other-host"), testing::read_file(dovecot_lock()));
  }

 private:
  testing::TempDir dir_;
  UniqueFd root_;
};

CPPUNIT_TEST_SUITE_REGISTRATION(MaildropLockTest);

}  // namespace pop3d
