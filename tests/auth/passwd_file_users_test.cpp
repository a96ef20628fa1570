#include <cppunit/extensions/HelperMacros.h>

#include <time.h>

#include <crypt.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "auth/passwd_file_users.hpp"
#include "auth/password_scheme.hpp"
#include "auth_test_support.hpp"

namespace pop3d {

using auth_test::CapturedLog;
using auth_test::TempDir;
using auth_test::write_file;

namespace {

constexpr const char* kRfcTimestamp = "<1896.697170952@dbc.mtview.ca.us>";
constexpr const char* kRfcDigest = "c4c9334bac560ecc979e58001b3e22fb";

// Moves the file's mtime back, as if it had been written long ago, so a
// rewrite within the same clock tick still looks like a change.
void age_file(const std::string& path) {
  struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
  CPPUNIT_ASSERT_EQUAL(0, ::utimensat(AT_FDCWD, path.c_str(), times, 0));
}

}  // namespace

class PasswdFileUsersTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(PasswdFileUsersTest);
  CPPUNIT_TEST(good_password_gives_record);
  CPPUNIT_TEST(unknown_user_differs_from_wrong_password);
  CPPUNIT_TEST(unsupported_scheme_cannot_log_in);
  CPPUNIT_TEST(virtual_user_mail_location);
  CPPUNIT_TEST(bad_mail_location_is_temp_fail);
  CPPUNIT_TEST(unreadable_file_is_temp_fail);
  CPPUNIT_TEST(file_appearing_later_is_picked_up);
  CPPUNIT_TEST(reload_after_change);
  CPPUNIT_TEST(reload_after_atomic_replace);
  CPPUNIT_TEST(failed_reload_keeps_old_table);
  CPPUNIT_TEST(malformed_edit_keeps_old_table);
  CPPUNIT_TEST(authenticate_never_reads_the_file);
  CPPUNIT_TEST(older_copy_refuses_after_new_table);
  CPPUNIT_TEST(forked_copy_refuses_after_new_table);
  CPPUNIT_TEST(apop_rfc1939_example);
  CPPUNIT_TEST(apop_only_for_plaintext_users);
  CPPUNIT_TEST(apop_available_follows_file);
  CPPUNIT_TEST(reasons_never_hold_password);
  CPPUNIT_TEST(unknown_user_costs_like_known_user);
  CPPUNIT_TEST(plain_user_costs_like_unknown_in_mixed_file);
  CPPUNIT_TEST_SUITE_END();

 public:
  void good_password_gives_record() {
    TempDir dir;
    write_file(dir.file("passwd"), "alice:" + hash_password("SHA512-CRYPT", "wonderland") +
                                       ":1001:1002:Alice:/home/alice:/bin/false\n");
    PasswdFileUsers users(dir.file("passwd"), "%h/Maildir");
    CPPUNIT_ASSERT(users.initial_load_status().ok());
    CPPUNIT_ASSERT_EQUAL(size_t{1}, users.user_count());
    AuthOutcome ok = users.authenticate("alice", "wonderland");
    CPPUNIT_ASSERT(ok.status == AuthStatus::kOk);
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), ok.user.name);
    CPPUNIT_ASSERT_EQUAL(uid_t{1001}, ok.user.uid);
    CPPUNIT_ASSERT_EQUAL(gid_t{1002}, ok.user.gid);
    CPPUNIT_ASSERT_EQUAL(std::string("/home/alice"), ok.user.home);
    CPPUNIT_ASSERT_EQUAL(std::string("/home/alice/Maildir"), ok.user.maildir);
  }

  void unknown_user_differs_from_wrong_password() {
    TempDir dir;
    write_file(dir.file("passwd"), "bob:{PLAIN}builder:1:1::/home/bob\n");
    PasswdFileUsers users(dir.file("passwd"), "%h/Maildir");
    AuthOutcome wrong = users.authenticate("bob", "fixer");
    CPPUNIT_ASSERT(wrong.status == AuthStatus::kBadPassword);
    CPPUNIT_ASSERT_EQUAL(std::string("wrong password"), wrong.reason);
    AuthOutcome unknown = users.authenticate("rob", "builder");
    CPPUNIT_ASSERT(unknown.status == AuthStatus::kUnknownUser);
    CPPUNIT_ASSERT_EQUAL(std::string("unknown user"), unknown.reason);
    // Names match exactly; a case change is another (unknown) user.
    CPPUNIT_ASSERT(users.authenticate("Bob", "builder").status == AuthStatus::kUnknownUser);
    CPPUNIT_ASSERT(users.authenticate("", "").status == AuthStatus::kUnknownUser);
    CPPUNIT_ASSERT(users.authenticate("bob", "builder").status == AuthStatus::kOk);
  }

  void unsupported_scheme_cannot_log_in() {
    TempDir dir;
    write_file(dir.file("passwd"), "carl:{ARGON2ID}whatever:1:1::/home/carl\n");
    PasswdFileUsers users(dir.file("passwd"), "%h/Maildir");
    AuthOutcome o = users.authenticate("carl", "whatever");
    CPPUNIT_ASSERT(o.status == AuthStatus::kBadPassword);
    CPPUNIT_ASSERT_EQUAL(std::string("unsupported password scheme"), o.reason);
    CPPUNIT_ASSERT(users.authenticate("carl", "{ARGON2ID}whatever").status ==
                   AuthStatus::kBadPassword);
  }

  void virtual_user_mail_location() {
    TempDir dir;
    write_file(dir.file("passwd"), "dora@example.org:{PLAIN}explorer:5000:5000\n");
    PasswdFileUsers users(dir.file("passwd"), "/var/vmail/%d/%n");
    AuthOutcome o = users.authenticate("dora@example.org", "explorer");
    CPPUNIT_ASSERT(o.status == AuthStatus::kOk);
    CPPUNIT_ASSERT_EQUAL(std::string("/var/vmail/example.org/dora"), o.user.maildir);
    CPPUNIT_ASSERT(users.authenticate("dora", "explorer").status == AuthStatus::kUnknownUser);
  }

  void bad_mail_location_is_temp_fail() {
    TempDir dir;
    write_file(dir.file("passwd"), "ed:{PLAIN}pw:1:1\n");  // no home
    PasswdFileUsers users(dir.file("passwd"), "%h/Maildir");
    AuthOutcome o = users.authenticate("ed", "pw");
    CPPUNIT_ASSERT(o.status == AuthStatus::kTempFail);
    CPPUNIT_ASSERT(o.reason.find("home") != std::string::npos);
    // The password is checked first: a wrong one is still just wrong.
    CPPUNIT_ASSERT(users.authenticate("ed", "nope").status == AuthStatus::kBadPassword);
  }

  void unreadable_file_is_temp_fail() {
    TempDir dir;
    PasswdFileUsers users(dir.file("missing"), "%h/Maildir");
    CPPUNIT_ASSERT(!users.initial_load_status().ok());
    AuthOutcome o = users.authenticate("anyone", "pw");
    CPPUNIT_ASSERT(o.status == AuthStatus::kTempFail);
    CPPUNIT_ASSERT(o.reason.find("missing") != std::string::npos);
    CPPUNIT_ASSERT(users.authenticate_apop("anyone", kRfcTimestamp, kRfcDigest).status ==
                   AuthStatus::kTempFail);
    CPPUNIT_ASSERT(!users.apop_available());
  }

  void file_appearing_later_is_picked_up() {
    TempDir dir;
    PasswdFileUsers users(dir.file("passwd"), "%h/Maildir");
    CPPUNIT_ASSERT(users.authenticate("fay", "pw").status == AuthStatus::kTempFail);
    write_file(dir.file("passwd"), "fay:{PLAIN}pw:1:1::/home/fay\n");
    CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kReloaded);
    CPPUNIT_ASSERT(users.authenticate("fay", "pw").status == AuthStatus::kOk);
  }

  void reload_after_change() {
    TempDir dir;
    const std::string path = dir.file("passwd");
    write_file(path, "gus:{PLAIN}old:1:1::/home/gus\n");
    age_file(path);
    PasswdFileUsers users(path, "%h/Maildir");
    CPPUNIT_ASSERT(users.authenticate("gus", "old").status == AuthStatus::kOk);
    CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kUnchanged);
    // Same size, same inode: only the mtime tells that it changed.
    write_file(path, "gus:{PLAIN}new:1:1::/home/gus\n");
    CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kReloaded);
    CPPUNIT_ASSERT(users.authenticate("gus", "old").status == AuthStatus::kBadPassword);
    CPPUNIT_ASSERT(users.authenticate("gus", "new").status == AuthStatus::kOk);
    CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kUnchanged);
  }

  void reload_after_atomic_replace() {
    TempDir dir;
    const std::string path = dir.file("passwd");
    write_file(path, "hana:{PLAIN}h:1:1::/home/hana\n");
    PasswdFileUsers users(path, "%h/Maildir");
    CPPUNIT_ASSERT(users.authenticate("ivo", "i").status == AuthStatus::kUnknownUser);
    write_file(dir.file("passwd.new"),
               "hana:{PLAIN}h:1:1::/home/hana\nivo:{PLAIN}i:1:1::/home/ivo\n");
    CPPUNIT_ASSERT_EQUAL(0, std::rename(dir.file("passwd.new").c_str(), path.c_str()));
    CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kReloaded);
    CPPUNIT_ASSERT(users.authenticate("ivo", "i").status == AuthStatus::kOk);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, users.user_count());
  }

  void failed_reload_keeps_old_table() {
    TempDir dir;
    const std::string path = dir.file("passwd");
    write_file(path, "jan:{PLAIN}j:1:1::/home/jan\n");
    std::string log_text;
    {
      CapturedLog log(dir.file("log"));
      PasswdFileUsers users(path, "%h/Maildir");
      CPPUNIT_ASSERT_EQUAL(0, std::remove(path.c_str()));
      CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kKeptOld);
      // Still gone: nothing new to try, nothing logged again.
      CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kUnchanged);
      CPPUNIT_ASSERT(users.authenticate("jan", "j").status == AuthStatus::kOk);
      // Replaced by something that is not a file at all.
      CPPUNIT_ASSERT_EQUAL(0, ::mkdir(path.c_str(), 0700));
      CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kKeptOld);
      CPPUNIT_ASSERT(users.authenticate("jan", "j").status == AuthStatus::kOk);
      CPPUNIT_ASSERT(!users.load().ok());
      CPPUNIT_ASSERT(users.authenticate("jan", "j").status == AuthStatus::kOk);
      log_text = log.text();
    }
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count_of(log_text, "open " + path));
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count_of(log_text, "is not a regular file"));
    CPPUNIT_ASSERT(log_text.find("keeping the 1 users loaded before") != std::string::npos);
  }

  // A half-saved or mistyped edit would lock out the users on the bad
  // lines; the table in use stays, and the bad line is named once.
  void malformed_edit_keeps_old_table() {
    TempDir dir;
    const std::string path = dir.file("passwd");
    write_file(path, "kai:{PLAIN}old:1:1::/home/kai\nlea:{PLAIN}l:1:1::/home/lea\n");
    age_file(path);
    std::string log_text;
    {
      CapturedLog log(dir.file("log"));
      PasswdFileUsers users(path, "%h/Maildir");
      write_file(path, "kai:{PLAIN}new:1:1::/home/kai\nlea{PLAIN}l:1:x::/home/lea\n");
      CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kKeptOld);
      CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kUnchanged);
      CPPUNIT_ASSERT(users.authenticate("kai", "old").status == AuthStatus::kOk);
      CPPUNIT_ASSERT(users.authenticate("kai", "new").status == AuthStatus::kBadPassword);
      CPPUNIT_ASSERT(users.authenticate("lea", "l").status == AuthStatus::kOk);
      log_text = log.text();
      // Fixed: taken at once.
      write_file(path, "kai:{PLAIN}new:1:1::/home/kai\nlea:{PLAIN}l:1:1::/home/lea\n");
      CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kReloaded);
      CPPUNIT_ASSERT(users.authenticate("kai", "new").status == AuthStatus::kOk);
    }
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count_of(log_text, "passwd-file " + path + " line 2: "));
    CPPUNIT_ASSERT_EQUAL(size_t{1}, count_of(log_text, "keeping the 2 users loaded before"));
  }

  // Only the master re-reads (reload_if_changed); a worker's logins use
  // the table it was forked with, so no worker makes a copy of its own.
  void authenticate_never_reads_the_file() {
    TempDir dir;
    const std::string path = dir.file("passwd");
    write_file(path, "max:{PLAIN}old:1:1::/home/max\n");
    age_file(path);
    PasswdFileUsers users(path, "%h/Maildir");
    write_file(path, "max:{PLAIN}new:1:1::/home/max\nned:{PLAIN}n:1:1::/home/ned\n");
    CPPUNIT_ASSERT(users.authenticate("max", "old").status == AuthStatus::kOk);
    CPPUNIT_ASSERT(users.authenticate("ned", "n").status == AuthStatus::kUnknownUser);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, users.user_count());
  }

  // `old_copy` stands for a worker forked before a SIGHUP: a new object
  // on the same version page (as build_service makes) that read the same
  // file leaves it current; one that read an edited file does not.
  void older_copy_refuses_after_new_table() {
    TempDir dir;
    const std::string path = dir.file("passwd");
    write_file(path, "ola:{PLAIN}old:1:1::/home/ola\n");
    age_file(path);
    PasswdFileUsers old_copy(path, "%h/Maildir");
    old_copy.publish();
    PasswdFileUsers same(path, "%h/Maildir", old_copy.version());
    same.publish();
    CPPUNIT_ASSERT(old_copy.authenticate("ola", "old").status == AuthStatus::kOk);
    write_file(path, "ola:{PLAIN}new:1:1::/home/ola\n");
    PasswdFileUsers edited(path, "%h/Maildir", old_copy.version());
    // Not current until published: a reload that fails after reading the
    // file leaves the running workers' table in use.
    CPPUNIT_ASSERT(old_copy.authenticate("ola", "old").status == AuthStatus::kOk);
    edited.publish();
    const AuthOutcome stale = old_copy.authenticate("ola", "old");
    CPPUNIT_ASSERT(stale.status == AuthStatus::kTempFail);
    CPPUNIT_ASSERT(stale.reason.find("out of date") != std::string::npos);
    CPPUNIT_ASSERT(old_copy.authenticate_apop("ola", kRfcTimestamp, kRfcDigest).status ==
                   AuthStatus::kTempFail);
    CPPUNIT_ASSERT(edited.authenticate("ola", "new").status == AuthStatus::kOk);
  }

  // A worker forked before the master re-read the file is still in a
  // session: the old password must not log in there either, cached or not.
  void forked_copy_refuses_after_new_table() {
    TempDir dir;
    const std::string path = dir.file("passwd");
    write_file(path, "pia:{PLAIN}old:1:1::/home/pia\n");
    age_file(path);
    PasswdFileUsers users(path, "%h/Maildir");
    users.publish();
    // Logged in once before the edit, so the login cache the child
    // inherits holds it.
    CPPUNIT_ASSERT(users.authenticate("pia", "old").status == AuthStatus::kOk);
    int go[2];
    CPPUNIT_ASSERT_EQUAL(0, ::pipe(go));
    const pid_t child = ::fork();
    CPPUNIT_ASSERT(child >= 0);
    if (child == 0) {
      ::close(go[1]);
      int code = 0;
      char c;
      if (::read(go[0], &c, 1) != 1) code = 11;
      if (users.authenticate("pia", "old").status != AuthStatus::kTempFail) code = 12;
      ::_exit(code);
    }
    ::close(go[0]);
    write_file(path, "pia:{PLAIN}new:1:1::/home/pia\n");
    CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kReloaded);
    CPPUNIT_ASSERT_EQUAL(ssize_t{1}, ::write(go[1], "x", 1));
    ::close(go[1]);
    int status = 0;
    CPPUNIT_ASSERT_EQUAL(child, ::waitpid(child, &status, 0));
    CPPUNIT_ASSERT(WIFEXITED(status));
    CPPUNIT_ASSERT_EQUAL(0, WEXITSTATUS(status));
    CPPUNIT_ASSERT(users.authenticate("pia", "new").status == AuthStatus::kOk);
  }

  void apop_rfc1939_example() {
    TempDir dir;
    write_file(dir.file("passwd"), "mrose:{PLAIN}tanstaaf:1:1::/home/mrose\n");
    PasswdFileUsers users(dir.file("passwd"), "%h/Maildir");
    CPPUNIT_ASSERT(users.apop_available());
    AuthOutcome o = users.authenticate_apop("mrose", kRfcTimestamp, kRfcDigest);
    CPPUNIT_ASSERT(o.status == AuthStatus::kOk);
    CPPUNIT_ASSERT_EQUAL(std::string("/home/mrose/Maildir"), o.user.maildir);
    CPPUNIT_ASSERT(
        users.authenticate_apop("mrose", kRfcTimestamp, "C4C9334BAC560ECC979E58001B3E22FB")
            .status == AuthStatus::kOk);
    CPPUNIT_ASSERT(
        users.authenticate_apop("mrose", "<1897.697170952@dbc.mtview.ca.us>", kRfcDigest).status ==
        AuthStatus::kBadPassword);
    CPPUNIT_ASSERT(users.authenticate_apop("mrose", kRfcTimestamp, "nothex").status ==
                   AuthStatus::kBadPassword);
    CPPUNIT_ASSERT(users.authenticate_apop("nobody", kRfcTimestamp, kRfcDigest).status ==
                   AuthStatus::kUnknownUser);
  }

  void apop_only_for_plaintext_users() {
    TempDir dir;
    write_file(dir.file("passwd"),
               "mrose:" + hash_password("SHA512-CRYPT", "tanstaaf") + ":1:1::/home/mrose\n");
    PasswdFileUsers users(dir.file("passwd"), "%h/Maildir");
    CPPUNIT_ASSERT(!users.apop_available());
    AuthOutcome o = users.authenticate_apop("mrose", kRfcTimestamp, kRfcDigest);
    CPPUNIT_ASSERT(o.status == AuthStatus::kBadPassword);
    CPPUNIT_ASSERT(o.reason.find("PLAIN") != std::string::npos);
    CPPUNIT_ASSERT(users.authenticate("mrose", "tanstaaf").status == AuthStatus::kOk);
  }

  void apop_available_follows_file() {
    TempDir dir;
    const std::string path = dir.file("passwd");
    write_file(path, "x:{SHA256}9S+9MrKzuG/4jvbEkGKChfSCrxXdyylUH5S89Saj9sc=:1:1::/h\n");
    age_file(path);
    PasswdFileUsers users(path, "%h/Maildir");
    CPPUNIT_ASSERT(!users.apop_available());
    CPPUNIT_ASSERT(users.authenticate("x", "hunter2").status == AuthStatus::kOk);
    write_file(path,
               "x:{SHA256}9S+9MrKzuG/4jvbEkGKChfSCrxXdyylUH5S89Saj9sc=:1:1::/h\ny:{PLAIN}y\n");
    CPPUNIT_ASSERT(users.reload_if_changed() == PasswdReload::kReloaded);
    CPPUNIT_ASSERT(users.apop_available());
  }

  void reasons_never_hold_password() {
    TempDir dir;
    write_file(dir.file("passwd"), "liz:{PLAIN}LizSecret:1:1::/home/liz\n");
    std::string log_text;
    {
      CapturedLog log(dir.file("log"));
      PasswdFileUsers users(dir.file("passwd"), "%h/Maildir");
      AuthOutcome outcomes[] = {users.authenticate("liz", "GuessOne"),
                                users.authenticate("liz", "LizSecret"),
                                users.authenticate("nobody", "GuessTwo")};
      for (const AuthOutcome& o : outcomes) {
        CPPUNIT_ASSERT(o.reason.find("Guess") == std::string::npos);
        CPPUNIT_ASSERT(o.reason.find("LizSecret") == std::string::npos);
      }
      log_text = log.text();
    }
    CPPUNIT_ASSERT(log_text.find("1 users loaded") != std::string::npos);
    CPPUNIT_ASSERT(log_text.find("LizSecret") == std::string::npos);
    CPPUNIT_ASSERT(log_text.find("Guess") == std::string::npos);
  }

  // With a costly hash in the file, a fixed cheap dummy would make unknown
  // names answer several times faster than real ones.
  void unknown_user_costs_like_known_user() {
    TempDir dir;
    // SHA512-CRYPT at 50000 rounds costs ten times the default 5000.
    const std::string slow = crypt_with_rounds("secret", "$6$rounds=50000$saltsalt$");
    write_file(dir.file("passwd"), "mo:" + slow + ":1:1::/h\nnell:" + slow + ":1:1::/h\n");
    PasswdFileUsers users(dir.file("passwd"), "%h/Maildir");
    // CPU time of this thread, not wall-clock time: what is compared is the
    // work done, which other load on the machine does not change.
    auto cpu_now = [] {
      timespec ts;
      ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return std::chrono::nanoseconds(ts.tv_sec * 1000000000LL + ts.tv_nsec);
    };
    auto time_of = [&](const char* user) {
      auto best = std::chrono::nanoseconds::max();
      for (int i = 0; i < 3; ++i) {
        auto start = cpu_now();
        (void)users.authenticate(user, "guess");
        best = std::min(best, cpu_now() - start);
      }
      return best;
    };
    const auto known = time_of("mo");
    const auto unknown = time_of("nobody");
    CPPUNIT_ASSERT_MESSAGE(
        "unknown " + std::to_string(unknown.count()) + " vs known " + std::to_string(known.count()),
        unknown * 2 > known && known * 2 > unknown);
  }

  // Most users have a costly hash, so an unknown name costs one costly
  // check; a {PLAIN} user's wrong password must not answer sooner.
  void plain_user_costs_like_unknown_in_mixed_file() {
    TempDir dir;
    const std::string slow = crypt_with_rounds("secret", "$6$rounds=50000$saltsalt$");
    write_file(dir.file("passwd"),
               "mo:" + slow + ":1:1::/h\nnell:" + slow + ":1:1::/h\nolga:{PLAIN}secret:1:1::/h\n");
    PasswdFileUsers users(dir.file("passwd"), "%h/Maildir");
    const auto plain = cpu_time_of(users, "olga");
    const auto unknown = cpu_time_of(users, "nobody");
    CPPUNIT_ASSERT_MESSAGE(
        "unknown " + std::to_string(unknown.count()) + " vs plain " + std::to_string(plain.count()),
        unknown * 2 > plain && plain * 2 > unknown);
    CPPUNIT_ASSERT(users.authenticate("olga", "secret").status == AuthStatus::kOk);
  }

 private:
  // The least CPU time of this thread over three wrong-password attempts:
  // the work done, which other load on the machine does not change.
  static std::chrono::nanoseconds cpu_time_of(PasswdFileUsers& users, const char* user) {
    auto cpu_now = [] {
      timespec ts;
      ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return std::chrono::nanoseconds(ts.tv_sec * 1000000000LL + ts.tv_nsec);
    };
    auto best = std::chrono::nanoseconds::max();
    for (int i = 0; i < 3; ++i) {
      auto start = cpu_now();
      (void)users.authenticate(user, "guess");
      best = std::min(best, cpu_now() - start);
    }
    return best;
  }

  static size_t count_of(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
      ++n;
    }
    return n;
  }

  static std::string crypt_with_rounds(const char* password, const char* setting) {
    auto data = std::make_unique<crypt_data>();
    const char* out = crypt_rn(password, setting, data.get(), sizeof(crypt_data));
    CPPUNIT_ASSERT(out != nullptr);
    return out;
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PasswdFileUsersTest);

}  // namespace pop3d
