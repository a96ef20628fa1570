// The system-account rules (locked, expired, uid, root) and the check
// sequence, on a made-up passwd/shadow source.
#include <cppunit/extensions/HelperMacros.h>

#include <map>
#include <string>

#include "auth/password_scheme.hpp"
#include "auth/system_users.hpp"

namespace pop3d {

namespace {

constexpr long kToday = 20000;  // days since 1970: some day in 2024

// crypt(3) output of `password`, without the {SCHEME} prefix shadow lacks.
std::string crypt_of(const std::string& password) {
  const std::string h = hash_password("SHA512-CRYPT", password);
  return h.substr(h.find('}') + 1);
}

struct FakeAccount {
  uid_t uid;
  std::string passwd_field;
  bool has_shadow;
  std::string hash;
  long last_change = 19000;
  long max_age = 99999;
  long expire = -1;
};

class FakeSource : public AccountSource {
 public:
  std::map<std::string, FakeAccount> accounts;
  bool broken = false;
  int shadow_lookups = 0;

  Lookup<SystemAccount> find_account(const std::string& name) override {
    Lookup<SystemAccount> out;
    if (broken) return out;
    auto it = accounts.find(name);
    if (it == accounts.end()) {
      out.status = LookupStatus::kNotFound;
      return out;
    }
    out.status = LookupStatus::kFound;
    out.value.name = name;
    out.value.uid = it->second.uid;
    out.value.gid = it->second.uid;
    out.value.home = "/home/" + name;
    out.value.passwd_field = SecretString(it->second.passwd_field);
    return out;
  }
  Lookup<ShadowEntry> find_shadow(const std::string& name) override {
    ++shadow_lookups;
    Lookup<ShadowEntry> out;
    auto it = accounts.find(name);
    if (it == accounts.end() || !it->second.has_shadow) {
      out.status = LookupStatus::kNotFound;
      return out;
    }
    out.status = LookupStatus::kFound;
    out.value.hash = SecretString(it->second.hash);
    out.value.last_change = it->second.last_change;
    out.value.max_age = it->second.max_age;
    out.value.expire = it->second.expire;
    return out;
  }
};

}  // namespace

class SystemUsersTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(SystemUsersTest);
  CPPUNIT_TEST(good_password_gives_the_record);
  CPPUNIT_TEST(wrong_password_and_unknown_user);
  CPPUNIT_TEST(locked_accounts_are_refused);
  CPPUNIT_TEST(expired_account_is_refused);
  CPPUNIT_TEST(expired_password_is_refused);
  CPPUNIT_TEST(low_uids_and_root_are_refused);
  CPPUNIT_TEST(database_failure_is_temporary);
  CPPUNIT_TEST(hash_in_passwd_without_shadow);
  CPPUNIT_TEST(outcomes_map_to_session_statuses);
  CPPUNIT_TEST(records_for_tools_need_no_password);
  CPPUNIT_TEST_SUITE_END();

 public:
  void setUp() override {
    good_ = crypt_of("right");
    source_.accounts = {
        {"alice", {1001, "x", true, good_}},
        {"bang", {1002, "x", true, "!" + good_}},  // usermod -L
        {"star", {1003, "x", true, "*"}},
        {"empty", {1004, "x", true, ""}},
        {"noshadow", {1005, "x", false, ""}},
        {"gone", {1006, "x", true, good_, 19000, 99999, kToday}},
        {"old", {1007, "x", true, good_, 19000, 90}},
        {"forced", {1008, "x", true, good_, 0}},
        {"daemon", {1, "x", true, good_}},
        {"root", {0, "x", true, good_}},
        {"inpasswd", {1009, good_, false, ""}},
    };
  }

  void good_password_gives_the_record() {
    SystemUsers users(source_, "%h/Maildir", 1000);
    SystemCheckResult r = users.check("alice", "right", kToday);
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kOk), int(r.check));
    CPPUNIT_ASSERT_EQUAL(uid_t{1001}, r.user.uid);
    CPPUNIT_ASSERT_EQUAL(std::string("/home/alice/Maildir"), r.user.maildir);
  }

  void wrong_password_and_unknown_user() {
    SystemUsers users(source_, "%h/Maildir", 1000);
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kBadPassword),
                         int(users.check("alice", "wrong", kToday).check));
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kBadPassword),
                         int(users.check("alice", std::string("right\0x", 7), kToday).check));
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kUnknownUser),
                         int(users.check("nobody-here", "right", kToday).check));
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kUnknownUser),
                         int(users.check("../alice", "right", kToday).check));
  }

  void locked_accounts_are_refused() {
    SystemUsers users(source_, "%h/Maildir", 1000);
    // The right password does not open a locked account.
    for (const char* name : {"bang", "star", "empty", "noshadow"}) {
      CPPUNIT_ASSERT_EQUAL_MESSAGE(name, int(AccountCheck::kLocked),
                                   int(users.check(name, "right", kToday).check));
    }
  }

  void expired_account_is_refused() {
    SystemUsers users(source_, "%h/Maildir", 1000);
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kAccountExpired),
                         int(users.check("gone", "right", kToday).check));
    // The day before it expires it still works.
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kOk),
                         int(users.check("gone", "right", kToday - 1).check));
  }

  void expired_password_is_refused() {
    SystemUsers users(source_, "%h/Maildir", 1000);
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kPasswordExpired),
                         int(users.check("old", "right", kToday).check));
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kOk), int(users.check("old", "right", 19089).check));
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kPasswordExpired),
                         int(users.check("forced", "right", kToday).check));
  }

  void low_uids_and_root_are_refused() {
    SystemUsers users(source_, "%h/Maildir", 1000);
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kUidTooLow),
                         int(users.check("daemon", "right", kToday).check));
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kRoot), int(users.check("root", "right", kToday).check));
    // Even with first_valid_uid = 0, root stays out.
    SystemUsers lax(source_, "%h/Maildir", 0);
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kOk), int(lax.check("daemon", "right", kToday).check));
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kRoot), int(lax.check("root", "right", kToday).check));
  }

  // --print-uidls: the record a login would give, with the same refusals
  // of root and low uids, but without a password or the shadow's dates.
  void records_for_tools_need_no_password() {
    Result<UserRecord> alice = system_user_record(source_, "%h/Maildir", 1000, "alice");
    CPPUNIT_ASSERT(alice.ok());
    CPPUNIT_ASSERT_EQUAL(uid_t{1001}, alice->uid);
    CPPUNIT_ASSERT_EQUAL(std::string("/home/alice/Maildir"), alice->maildir);
    CPPUNIT_ASSERT(system_user_record(source_, "%h/Maildir", 1000, "gone").ok());
    CPPUNIT_ASSERT_EQUAL(
        std::string("no such user"),
        system_user_record(source_, "%h/Maildir", 1000, "nobody-here").error().message);
    CPPUNIT_ASSERT(!system_user_record(source_, "%h/Maildir", 1000, "daemon").ok());
    CPPUNIT_ASSERT(!system_user_record(source_, "%h/Maildir", 0, "root").ok());
    CPPUNIT_ASSERT(!system_user_record(source_, "/var/mail/%x", 1000, "alice").ok());
    source_.broken = true;
    CPPUNIT_ASSERT(!system_user_record(source_, "%h/Maildir", 1000, "alice").ok());
  }

  void database_failure_is_temporary() {
    source_.broken = true;
    SystemUsers users(source_, "%h/Maildir", 1000);
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kTempFail),
                         int(users.check("alice", "right", kToday).check));
  }

  void hash_in_passwd_without_shadow() {
    SystemUsers users(source_, "%h/Maildir", 1000);
    const int before = source_.shadow_lookups;
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kOk),
                         int(users.check("inpasswd", "right", kToday).check));
    CPPUNIT_ASSERT_EQUAL(before, source_.shadow_lookups);
  }

  void outcomes_map_to_session_statuses() {
    CPPUNIT_ASSERT(auth_status_for(AccountCheck::kLocked) == AuthStatus::kBadPassword);
    CPPUNIT_ASSERT(auth_status_for(AccountCheck::kRoot) == AuthStatus::kBadPassword);
    CPPUNIT_ASSERT(auth_status_for(AccountCheck::kTryLater) == AuthStatus::kTempFail);
    CPPUNIT_ASSERT(auth_status_for(AccountCheck::kUnknownUser) == AuthStatus::kUnknownUser);
  }

 private:
  FakeSource source_;
  std::string good_;
};

CPPUNIT_TEST_SUITE_REGISTRATION(SystemUsersTest);

}  // namespace pop3d
