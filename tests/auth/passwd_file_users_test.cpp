#include <cppunit/extensions/HelperMacros.h>

#include <time.h>

#include <crypt.h>
#include <fcntl.h>
#include <sys/stat.h>

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

constexpr std::chrono::milliseconds kRecheckAlways{0};
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
  CPPUNIT_TEST(recheck_waits_for_interval);
  CPPUNIT_TEST(apop_rfc1939_example);
  CPPUNIT_TEST(apop_only_for_plaintext_users);
  CPPUNIT_TEST(apop_available_follows_file);
  CPPUNIT_TEST(reasons_never_hold_password);
  CPPUNIT_TEST(unknown_user_costs_like_known_user);
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
    PasswdFileUsers users(dir.file("missing"), "%h/Maildir", kRecheckAlways);
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
    PasswdFileUsers users(dir.file("passwd"), "%h/Maildir", kRecheckAlways);
    CPPUNIT_ASSERT(users.authenticate("fay", "pw").status == AuthStatus::kTempFail);
    write_file(dir.file("passwd"), "fay:{PLAIN}pw:1:1::/home/fay\n");
    CPPUNIT_ASSERT(users.authenticate("fay", "pw").status == AuthStatus::kOk);
  }

  void reload_after_change() {
    TempDir dir;
    const std::string path = dir.file("passwd");
    write_file(path, "gus:{PLAIN}old:1:1::/home/gus\n");
    age_file(path);
    PasswdFileUsers users(path, "%h/Maildir", kRecheckAlways);
    CPPUNIT_ASSERT(users.authenticate("gus", "old").status == AuthStatus::kOk);
    // Same size, same inode: only the mtime tells that it changed.
    write_file(path, "gus:{PLAIN}new:1:1::/home/gus\n");
    CPPUNIT_ASSERT(users.authenticate("gus", "old").status == AuthStatus::kBadPassword);
    CPPUNIT_ASSERT(users.authenticate("gus", "new").status == AuthStatus::kOk);
  }

  void reload_after_atomic_replace() {
    TempDir dir;
    const std::string path = dir.file("passwd");
    write_file(path, "hana:{PLAIN}h:1:1::/home/hana\n");
    PasswdFileUsers users(path, "%h/Maildir", kRecheckAlways);
    CPPUNIT_ASSERT(users.authenticate("ivo", "i").status == AuthStatus::kUnknownUser);
    write_file(dir.file("passwd.new"),
               "hana:{PLAIN}h:1:1::/home/hana\nivo:{PLAIN}i:1:1::/home/ivo\n");
    CPPUNIT_ASSERT_EQUAL(0, std::rename(dir.file("passwd.new").c_str(), path.c_str()));
    CPPUNIT_ASSERT(users.authenticate("ivo", "i").status == AuthStatus::kOk);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, users.user_count());
  }

  void failed_reload_keeps_old_table() {
    TempDir dir;
    const std::string path = dir.file("passwd");
    write_file(path, "jan:{PLAIN}j:1:1::/home/jan\n");
    PasswdFileUsers users(path, "%h/Maildir", kRecheckAlways);
    CPPUNIT_ASSERT_EQUAL(0, std::remove(path.c_str()));
    CPPUNIT_ASSERT(users.authenticate("jan", "j").status == AuthStatus::kOk);
    // Replaced by something that is not a file at all.
    CPPUNIT_ASSERT_EQUAL(0, ::mkdir(path.c_str(), 0700));
    CPPUNIT_ASSERT(users.authenticate("jan", "j").status == AuthStatus::kOk);
    CPPUNIT_ASSERT(!users.load().ok());
    CPPUNIT_ASSERT(users.authenticate("jan", "j").status == AuthStatus::kOk);
  }

  void recheck_waits_for_interval() {
    TempDir dir;
    const std::string path = dir.file("passwd");
    write_file(path, "kai:{PLAIN}old:1:1::/home/kai\n");
    age_file(path);
    PasswdFileUsers users(path, "%h/Maildir", std::chrono::hours(1));
    write_file(path, "kai:{PLAIN}new:1:1::/home/kai\n");
    // Within the interval the file is not looked at again...
    CPPUNIT_ASSERT(users.authenticate("kai", "old").status == AuthStatus::kOk);
    // ...but an explicit load() reads it at once.
    CPPUNIT_ASSERT(users.load().ok());
    CPPUNIT_ASSERT(users.authenticate("kai", "new").status == AuthStatus::kOk);
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
    PasswdFileUsers users(path, "%h/Maildir", kRecheckAlways);
    CPPUNIT_ASSERT(!users.apop_available());
    CPPUNIT_ASSERT(users.authenticate("x", "hunter2").status == AuthStatus::kOk);
    write_file(path,
               "x:{SHA256}9S+9MrKzuG/4jvbEkGKChfSCrxXdyylUH5S89Saj9sc=:1:1::/h\ny:{PLAIN}y\n");
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

 private:
  static std::string crypt_with_rounds(const char* password, const char* setting) {
    auto data = std::make_unique<crypt_data>();
    const char* out = crypt_rn(password, setting, data.get(), sizeof(crypt_data));
    CPPUNIT_ASSERT(out != nullptr);
    return out;
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PasswdFileUsersTest);

}  // namespace pop3d
