#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>

#include <string>

#include "auth/passwd_file.hpp"
#include "auth/user_db.hpp"
#include "auth_test_support.hpp"

namespace pop3d {

using auth_test::CapturedLog;
using auth_test::TempDir;
using auth_test::write_file;

class PasswdFileTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(PasswdFileTest);
  CPPUNIT_TEST(full_and_short_lines);
  CPPUNIT_TEST(comments_blank_lines_and_crlf);
  CPPUNIT_TEST(empty_ids_are_the_process_ids);
  CPPUNIT_TEST(malformed_lines_are_skipped);
  CPPUNIT_TEST(first_of_duplicate_users_counts);
  CPPUNIT_TEST(overlong_line_is_skipped);
  CPPUNIT_TEST(counts_plaintext_and_unusable_users);
  CPPUNIT_TEST(warnings_name_line_but_not_password);
  CPPUNIT_TEST(load_refuses_missing_and_non_regular_files);
  CPPUNIT_TEST(load_reads_file_and_identity);
  CPPUNIT_TEST(typical_user_has_most_common_cost);
  CPPUNIT_TEST(hundred_thousand_users);
  CPPUNIT_TEST(extra_fields_are_understood);
  CPPUNIT_TEST(login_applies_extra_fields);
  CPPUNIT_TEST(unknown_fields_are_logged_and_restricting_ones_block);
  CPPUNIT_TEST_SUITE_END();

 public:
  void full_and_short_lines() {
    PasswdTable t = parse_passwd_file(
        "alice:{PLAIN}a:1001:1002:Alice A:/home/alice:/bin/sh:userdb_quota=1G\n"
        "bob@example.org:{PLAIN}b::::/var/vmail/example.org/bob\n"
        "carol:{PLAIN}c\n"
        "dave:{PLAIN}d:7:8\n",
        "test");
    CPPUNIT_ASSERT_EQUAL(size_t{4}, t.users.size());
    const PasswdEntry* a = t.find("alice");
    CPPUNIT_ASSERT(a != nullptr);
    CPPUNIT_ASSERT_EQUAL(uid_t{1001}, a->uid);
    CPPUNIT_ASSERT_EQUAL(gid_t{1002}, a->gid);
    CPPUNIT_ASSERT_EQUAL(std::string("/home/alice"), a->home);
    CPPUNIT_ASSERT_EQUAL(std::string("{PLAIN}a"), std::string(a->secret.view()));
    CPPUNIT_ASSERT_EQUAL(size_t{1}, a->line);
    const PasswdEntry* b = t.find("bob@example.org");
    CPPUNIT_ASSERT(b != nullptr);
    CPPUNIT_ASSERT_EQUAL(std::string("/var/vmail/example.org/bob"), b->home);
    CPPUNIT_ASSERT(t.find("bob") == nullptr);
    const PasswdEntry* c = t.find("carol");
    CPPUNIT_ASSERT(c != nullptr);
    CPPUNIT_ASSERT(c->home.empty());
    CPPUNIT_ASSERT_EQUAL(uid_t{7}, t.find("dave")->uid);
    CPPUNIT_ASSERT_EQUAL(size_t{0}, t.skipped_lines);
  }

  void comments_blank_lines_and_crlf() {
    PasswdTable t = parse_passwd_file(
        "# the users\n"
        "\n"
        "   \n"
        "erin:{PLAIN}e:1:1::/home/erin\r\n"
        "#frank:{PLAIN}f\n"
        "gina:{PLAIN}g",  // no final newline
        "test");
    CPPUNIT_ASSERT_EQUAL(size_t{2}, t.users.size());
    CPPUNIT_ASSERT_EQUAL(std::string("/home/erin"), t.find("erin")->home);
    CPPUNIT_ASSERT_EQUAL(size_t{4}, t.find("erin")->line);
    CPPUNIT_ASSERT(t.find("#frank") == nullptr);
    CPPUNIT_ASSERT(t.find("gina") != nullptr);
    CPPUNIT_ASSERT_EQUAL(size_t{0}, t.skipped_lines);
  }

  void empty_ids_are_the_process_ids() {
    PasswdTable t = parse_passwd_file("hal:{PLAIN}h::\n", "test");
    CPPUNIT_ASSERT_EQUAL(::getuid(), t.find("hal")->uid);
    CPPUNIT_ASSERT_EQUAL(::getgid(), t.find("hal")->gid);
  }

  void malformed_lines_are_skipped() {
    PasswdTable t = parse_passwd_file(
        "nopassword\n"
        ":{PLAIN}x:1:1\n"
        "ivan:{PLAIN}i:12x:1\n"
        "judy:{PLAIN}j:1:-5\n"
        "kim:{PLAIN}k:4294967295:1\n"
        "with space:{PLAIN}w\n"
        "leo:{PLAIN}l:99999999999999999999:1\n"
        "mia:{PLAIN}m:5:6\n",
        "test");
    CPPUNIT_ASSERT_EQUAL(size_t{1}, t.users.size());
    CPPUNIT_ASSERT(t.find("mia") != nullptr);
    CPPUNIT_ASSERT_EQUAL(size_t{7}, t.skipped_lines);
  }

  void first_of_duplicate_users_counts() {
    PasswdTable t = parse_passwd_file("nick:{PLAIN}first\nnick:{PLAIN}second\n", "test");
    CPPUNIT_ASSERT_EQUAL(size_t{1}, t.users.size());
    CPPUNIT_ASSERT_EQUAL(std::string("{PLAIN}first"), std::string(t.find("nick")->secret.view()));
    CPPUNIT_ASSERT_EQUAL(size_t{1}, t.skipped_lines);
  }

  void overlong_line_is_skipped() {
    std::string content = "olga:{PLAIN}" + std::string(kMaxPasswdLineBytes, 'x') + "\n";
    content += "pat:{PLAIN}p\n";
    PasswdTable t = parse_passwd_file(content, "test");
    CPPUNIT_ASSERT(t.find("olga") == nullptr);
    CPPUNIT_ASSERT(t.find("pat") != nullptr);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, t.skipped_lines);
  }

  void counts_plaintext_and_unusable_users() {
    PasswdTable t = parse_passwd_file(
        "a:{PLAIN}a\nb:{CLEARTEXT}b\nc:{ARGON2ID}zzz\nd:\ne:forgotprefix\n"
        "f:$6$saltsalt$LMtDgChSrV.wGnnrAr7LXtxT9OYdesYYRBi0J7VAO0UoNpOTX5uxqMPmQ0Gkk2HMqd/"
        "t1jYDOamm5q1ro0ZhX/\n",
        "test");
    // Users that cannot log in stay in the table: they are known users
    // with a bad secret, not unknown ones.
    CPPUNIT_ASSERT_EQUAL(size_t{6}, t.users.size());
    CPPUNIT_ASSERT_EQUAL(size_t{2}, t.plaintext_users);
    CPPUNIT_ASSERT_EQUAL(size_t{3}, t.unusable_users);
  }

  void warnings_name_line_but_not_password() {
    TempDir dir;
    std::string log_text;
    {
      CapturedLog log(dir.file("log"));
      (void)parse_passwd_file(
          "# header\n"
          "quinn:{ARGON2ID}TopSecretHash\n"
          "rita:Plain-Text-Oops\n"
          "sam:{PLAIN}SamSecret:notanumber\n",
          "/etc/pop3d/passwd");
      log_text = log.text();
    }
    CPPUNIT_ASSERT(log_text.find("/etc/pop3d/passwd line 2") != std::string::npos);
    CPPUNIT_ASSERT(log_text.find("ARGON2ID") != std::string::npos);
    CPPUNIT_ASSERT(log_text.find("/etc/pop3d/passwd line 3") != std::string::npos);
    CPPUNIT_ASSERT(log_text.find("/etc/pop3d/passwd line 4") != std::string::npos);
    CPPUNIT_ASSERT(log_text.find("TopSecretHash") == std::string::npos);
    CPPUNIT_ASSERT(log_text.find("Plain-Text-Oops") == std::string::npos);
    CPPUNIT_ASSERT(log_text.find("SamSecret") == std::string::npos);
  }

  void load_refuses_missing_and_non_regular_files() {
    TempDir dir;
    Result<LoadedPasswdFile> missing = load_passwd_file(dir.file("nope"));
    CPPUNIT_ASSERT(!missing.ok());
    CPPUNIT_ASSERT(missing.error().message.find("nope") != std::string::npos);
    Result<LoadedPasswdFile> directory = load_passwd_file(dir.file(""));
    CPPUNIT_ASSERT(!directory.ok());
    CPPUNIT_ASSERT(directory.error().message.find("regular file") != std::string::npos);
  }

  void load_reads_file_and_identity() {
    TempDir dir;
    write_file(dir.file("passwd"), "tom:{PLAIN}t:1:2::/home/tom\n");
    Result<LoadedPasswdFile> loaded = load_passwd_file(dir.file("passwd"));
    CPPUNIT_ASSERT(loaded.ok());
    CPPUNIT_ASSERT(loaded->table.find("tom") != nullptr);
    Result<FileIdentity> id = stat_passwd_file(dir.file("passwd"));
    CPPUNIT_ASSERT(id.ok());
    CPPUNIT_ASSERT(*id == loaded->identity);
    write_file(dir.file("passwd"), "tom:{PLAIN}t:1:2::/home/tom\numa:{PLAIN}u\n");
    Result<FileIdentity> changed = stat_passwd_file(dir.file("passwd"));
    CPPUNIT_ASSERT(changed.ok());
    CPPUNIT_ASSERT(!(*changed == loaded->identity));
  }

  void typical_user_has_most_common_cost() {
    const std::string md5 = "$1$saltsalt$2HM3oGhH6VPi/5dxZ798f/";
    PasswdTable t =
        parse_passwd_file("a:{PLAIN}a\nb:" + md5 + "\nc:{NOPE}1\nd:{NOPE}2\ne:{NOPE}3\n" +
                              "f:" + md5 + "\ng:{PLAIN}g\nh:" + md5 + "\n",
                          "test");
    // Unusable secrets are never the model: they cost nothing to refuse.
    CPPUNIT_ASSERT_EQUAL(std::string("b"), t.typical_user);
    CPPUNIT_ASSERT(parse_passwd_file("# nobody\n", "test").typical_user.empty());
    CPPUNIT_ASSERT_EQUAL(std::string("z"), parse_passwd_file("z:{PLAIN}z\n", "test").typical_user);
    // One model per class, most common first: refusals check against each.
    CPPUNIT_ASSERT(t.cost_class_models == std::vector<std::string>({"b", "a"}));
    std::string many;
    for (int rounds = 1000; rounds < 1000 + 2 * int(kMaxCostClassModels); ++rounds) {
      many +=
          "u" + std::to_string(rounds) + ":$5$rounds=" + std::to_string(rounds) + "$salt$xxxx\n";
    }
    CPPUNIT_ASSERT_EQUAL(kMaxCostClassModels,
                         parse_passwd_file(many, "test").cost_class_models.size());
  }

  void hundred_thousand_users() {
    constexpr int kUsers = 100000;
    std::string content;
    for (int i = 0; i < kUsers; ++i) {
      content += "user" + std::to_string(i) + "@example.org:{PLAIN}pw" + std::to_string(i) +
                 ":5000:5000::/var/vmail/" + std::to_string(i) + "\n";
    }
    CPPUNIT_ASSERT(content.size() < kMaxPasswdFileBytes);
    PasswdTable t = parse_passwd_file(content, "test");
    CPPUNIT_ASSERT_EQUAL(size_t{kUsers}, t.users.size());
    const PasswdEntry* e = t.find("user77777@example.org");
    CPPUNIT_ASSERT(e != nullptr);
    CPPUNIT_ASSERT_EQUAL(std::string("{PLAIN}pw77777"), std::string(e->secret.view()));
    CPPUNIT_ASSERT_EQUAL(std::string("/var/vmail/77777"), e->home);
  }

  void extra_fields_are_understood() {
    PasswdTable t = parse_passwd_file(
        "al:{PLAIN}a::::/home/al::nologin reason=Moved_to_new_server\n"
        "bo:{PLAIN}b::::/home/bo::allow_nets=127.0.0.1,192.0.2.0/24,local\n"
        "cy:{PLAIN}c::::/home/cy::user=cyril@example.org userdb_home=/srv/cy "
        "userdb_mail=maildir:~/Mail userdb_uid=0 userdb_gid=0\n"
        "di:{PLAIN}d\n",
        "test");
    CPPUNIT_ASSERT_EQUAL(size_t{4}, t.users.size());
    const PasswdEntry* al = t.find("al");
    CPPUNIT_ASSERT(al->extra && al->extra->nologin);
    CPPUNIT_ASSERT_EQUAL(std::string("Moved_to_new_server"), al->extra->reason);
    const PasswdEntry* bo = t.find("bo");
    CPPUNIT_ASSERT(bo->extra && bo->extra->allow_nets);
    CPPUNIT_ASSERT(bo->extra->allow_nets->contains(std::string("127.0.0.1")));
    CPPUNIT_ASSERT(bo->extra->allow_nets->contains(std::string("192.0.2.77")));
    CPPUNIT_ASSERT(!bo->extra->allow_nets->contains(std::string("127.0.0.2")));
    // Found by the login name, carrying the canonical one.
    const PasswdEntry* cy = t.find("cy");
    CPPUNIT_ASSERT(cy != nullptr);
    CPPUNIT_ASSERT(t.find("cyril@example.org") == nullptr);
    CPPUNIT_ASSERT_EQUAL(std::string("cyril@example.org"), cy->name);
    CPPUNIT_ASSERT_EQUAL(std::string("/srv/cy"), cy->home);
    CPPUNIT_ASSERT_EQUAL(std::string("%h/Mail"), cy->extra->mail_location);
    CPPUNIT_ASSERT(t.find("di")->extra == nullptr);
    CPPUNIT_ASSERT_EQUAL(size_t{0}, t.unusable_users);
  }

  void login_applies_extra_fields() {
    PasswdTable t = parse_passwd_file(
        "al:{PLAIN}a::::/home/al::nologin reason=Moved\n"
        "am:{PLAIN}a::::/home/am::nologin\n"
        "bo:{PLAIN}b::::/home/bo::allow_nets=127.0.0.1\n"
        "cy:{PLAIN}c::::/home/cy::userdb_mail=maildir:/var/mail/%u:LAYOUT=fs\n"
        "du:{PLAIN}d::::/home/du::userdb_uid=4242\n",
        "test");
    auto ok_for = [&](const char* login, const char* address) {
      AuthOutcome o;
      o.status = AuthStatus::kOk;
      o.user.name = t.find(login)->name;
      o.user.home = t.find(login)->home;
      o.user.maildir = "/default";
      o.user.extra = t.find(login)->extra;
      return apply_extra_fields(o, address);
    };
    AuthOutcome al = ok_for("al", "127.0.0.1");
    CPPUNIT_ASSERT(al.status == AuthStatus::kBadPassword);
    CPPUNIT_ASSERT_EQUAL(std::string("[AUTH] Moved"), al.client_message);
    AuthOutcome am = ok_for("am", "127.0.0.1");
    CPPUNIT_ASSERT(am.status == AuthStatus::kBadPassword);
    CPPUNIT_ASSERT(am.client_message.empty());
    CPPUNIT_ASSERT(ok_for("bo", "127.0.0.1").status == AuthStatus::kOk);
    AuthOutcome bo = ok_for("bo", "127.0.0.2");
    CPPUNIT_ASSERT(bo.status == AuthStatus::kBadPassword);
    CPPUNIT_ASSERT(bo.client_message.empty());
    CPPUNIT_ASSERT(ok_for("bo", "::1").status == AuthStatus::kBadPassword);
    AuthOutcome cy = ok_for("cy", "127.0.0.1");
    CPPUNIT_ASSERT(cy.status == AuthStatus::kOk);
    CPPUNIT_ASSERT_EQUAL(std::string("/var/mail/cy:LAYOUT=fs"), cy.user.maildir);
    // The tests run as one uid; a user Dovecot served as another is refused.
    AuthOutcome du = ok_for("du", "127.0.0.1");
    CPPUNIT_ASSERT(::geteuid() == 4242 || du.status == AuthStatus::kTempFail);
    CPPUNIT_ASSERT(du.reason.find("userdb_uid=4242") != std::string::npos);
    // A refusal is returned as it came.
    AuthOutcome wrong;
    wrong.status = AuthStatus::kBadPassword;
    wrong.user.extra = t.find("al")->extra;
    CPPUNIT_ASSERT(apply_extra_fields(wrong, "127.0.0.1").client_message.empty());
  }

  void unknown_fields_are_logged_and_restricting_ones_block() {
    TempDir dir;
    std::string log_text;
    PasswdTable t;
    {
      CapturedLog log(dir.file("log"));
      t = parse_passwd_file(
          "ed:{PLAIN}e::::::userdb_quota_rule=*:storage=1G\n"
          "fi:{PLAIN}f::::::userdb_quota_rule=*:storage=2G nodelay\n"
          "gu:{PLAIN}g::::::allow_real_nets=10.0.0.0/8\n"
          "ha:{PLAIN}h::::::allow_nets=not-an-address\n"
          "io:{PLAIN}i::::::userdb_mail=mdbox:~/mdbox\n",
          "/etc/pop3d/passwd");
      log_text = log.text();
    }
    // Once per load, with the first line and how many lines have it.
    CPPUNIT_ASSERT(log_text.find("line 1: field userdb_quota_rule is not used by pop3d; ignored "
                                 "(on 2 lines)") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL(log_text.find("userdb_quota_rule"), log_text.rfind("userdb_quota_rule"));
    CPPUNIT_ASSERT(log_text.find("line 2: field nodelay") != std::string::npos);
    CPPUNIT_ASSERT(log_text.find("storage=1G") == std::string::npos);
    CPPUNIT_ASSERT(
        log_text.find("line 3: user gu cannot log in: field allow_real_nets restricts") !=
        std::string::npos);
    CPPUNIT_ASSERT(log_text.find("line 4: user ha cannot log in: allow_nets") != std::string::npos);
    CPPUNIT_ASSERT(log_text.find("line 5: user io cannot log in: userdb_mail") !=
                   std::string::npos);
    CPPUNIT_ASSERT_EQUAL(size_t{3}, t.unusable_users);
    for (const char* blocked : {"gu", "ha", "io"}) {
      CPPUNIT_ASSERT(t.find(blocked)->secret.empty());
      CPPUNIT_ASSERT(!t.find(blocked)->extra->blocked.empty());
    }
    CPPUNIT_ASSERT(t.find("ed")->extra == nullptr);
    CPPUNIT_ASSERT(t.typical_user == "ed" || t.typical_user == "fi");
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PasswdFileTest);

}  // namespace pop3d
