// The files parsed here are what Dovecot 2.3.19.1 (9b53102964), Debian 12's
// dovecot-pop3d, wrote into a Maildir it served with passwd-file auth,
// mail_location = maildir:..., pop3_uidl_format = %08Xu%08Xv and
// pop3_lock_session = yes; "P" fields came from pop3_save_uidl = yes after
// a UIDL with pop3_uidl_format = %f. The uid-5 line was appended by hand
// with the header's N left at 5, and Dovecot then listed it as uid 5 and
// gave the next delivery uid 6: that is how pop3d appends.
#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <string>
#include <vector>

#include "auth/mail_location.hpp"
#include "maildir_test_util.hpp"
#include "mailstore/dovecot_uidlist.hpp"

namespace pop3d {

using testing::TempDir;

namespace {

const char kPlain[] =
    "3 V1796164908 N4 G675d23292c4d0f6b0e03000083ecc375\n"
    "1 W26 :1700000001.M1P100.host,S=26\n"
    "2 W26 :1700000002.M2P100.host,S=26\n"
    "3 W30 :1700000003.M3P100.host\n";

const char kSavedUidls[] =
    "3 V1796165668 N5 G3a2b3b0c24500f6b3536000083ecc375\n"
    "1 W26 P :1700000001.M1P100.host,S=26\n"
    "3 W30 P :1700000003.M3P100.host\n"
    "4 W28 P000000046b0f5024 :1700000004.M4P100.host\n";

const char kAppended[] =
    "3 V1796165826 N5 Gfe9b6f32c2500f6bd73e000083ecc375\n"
    "1 W26 :1700000001.M1P100.host,S=26\n"
    "4 W28 :1700000004.M4P100.host\n"
    "5 :1700000005.M5P100.host\n";

std::string error_of(std::string_view text) {
  auto r = parse_dovecot_uidlist(text);
  return r.ok() ? std::string("parsed") : r.error().message;
}

bool mentions(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

class DovecotUidlistTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(DovecotUidlistTest);
  CPPUNIT_TEST(parses_what_dovecot_wrote);
  CPPUNIT_TEST(bare_p_means_the_base_name);
  CPPUNIT_TEST(appended_lines_raise_next_uid);
  CPPUNIT_TEST(flags_order_guid_and_unknown_fields);
  CPPUNIT_TEST(torn_last_line_is_left_out);
  CPPUNIT_TEST(malformed_input_names_the_line);
  CPPUNIT_TEST(bounded);
  CPPUNIT_TEST(new_file_in_dovecot_format);
  CPPUNIT_TEST(appends_only_new_names_keeping_old_bytes);
  CPPUNIT_TEST(torn_file_rewritten_without_the_torn_line);
  CPPUNIT_TEST(live_lock_is_waited_for_then_refused);
  CPPUNIT_TEST(stale_locks_are_broken);
  CPPUNIT_TEST(absent_file_reads_as_none);
  CPPUNIT_TEST(control_dir_from_mail_location);
  CPPUNIT_TEST_SUITE_END();

 public:
  void parses_what_dovecot_wrote() {
    auto l = parse_dovecot_uidlist(kPlain);
    CPPUNIT_ASSERT(l.ok());
    CPPUNIT_ASSERT_EQUAL(uint32_t{1796164908}, l->uidvalidity);
    CPPUNIT_ASSERT_EQUAL(uint32_t{4}, l->next_uid);
    CPPUNIT_ASSERT_EQUAL(size_t{3}, l->entries.size());
    CPPUNIT_ASSERT_EQUAL(uint32_t{3}, l->entries[2].uid);
    CPPUNIT_ASSERT_EQUAL(std::string("1700000003.M3P100.host"), l->entries[2].base_name);
    CPPUNIT_ASSERT_EQUAL(uint64_t{30}, *l->entries[2].vsize);
    CPPUNIT_ASSERT(!l->entries[0].presented_uidl());
    CPPUNIT_ASSERT(!l->partial_last_line);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, l->by_name().at("1700000002.M2P100.host,S=26"));
  }

  void bare_p_means_the_base_name() {
    auto l = parse_dovecot_uidlist(kSavedUidls);
    CPPUNIT_ASSERT(l.ok());
    // Dovecot had presented exactly these three UIDLs.
    CPPUNIT_ASSERT_EQUAL(std::string("1700000001.M1P100.host,S=26"),
                         *l->entries[0].presented_uidl());
    CPPUNIT_ASSERT_EQUAL(std::string("1700000003.M3P100.host"), *l->entries[1].presented_uidl());
    CPPUNIT_ASSERT_EQUAL(std::string("000000046b0f5024"), *l->entries[2].presented_uidl());
  }

  void appended_lines_raise_next_uid() {
    auto l = parse_dovecot_uidlist(kAppended);
    CPPUNIT_ASSERT(l.ok());
    CPPUNIT_ASSERT_EQUAL(uint32_t{6}, l->next_uid);
    CPPUNIT_ASSERT_EQUAL(uint32_t{5}, l->entries.back().uid);
  }

  void flags_order_guid_and_unknown_fields() {
    auto l = parse_dovecot_uidlist(
        "3 V7 N10 Gabc X1 future\n"
        "2 O2 Gfeed Kunknown W12 :2.b:2,S\n"
        "5 O1 P :5.e:2,\n");
    CPPUNIT_ASSERT(l.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("2.b"), l->entries[0].base_name);
    CPPUNIT_ASSERT_EQUAL(uint32_t{2}, l->entries[0].pop3_order);
    CPPUNIT_ASSERT_EQUAL(std::string("feed"), l->entries[0].guid);
    CPPUNIT_ASSERT_EQUAL(uint64_t{12}, *l->entries[0].vsize);
    CPPUNIT_ASSERT_EQUAL(std::string("5.e"), *l->entries[1].presented_uidl());
    CPPUNIT_ASSERT_EQUAL(uint32_t{10}, l->next_uid);
  }

  void torn_last_line_is_left_out() {
    auto l = parse_dovecot_uidlist(std::string(kPlain) + "4 :17000");
    CPPUNIT_ASSERT(l.ok());
    CPPUNIT_ASSERT(l->partial_last_line);
    CPPUNIT_ASSERT_EQUAL(size_t{3}, l->entries.size());
  }

  void malformed_input_names_the_line() {
    CPPUNIT_ASSERT(mentions(error_of(""), "line 1"));
    CPPUNIT_ASSERT(mentions(error_of("1 17 5\n1 name\n"), "line 1"));  // version 1 (Courier)
    CPPUNIT_ASSERT(mentions(error_of("3 N4\n"), "line 1"));
    CPPUNIT_ASSERT(mentions(error_of("3 V0 N4\n"), "line 1"));
    CPPUNIT_ASSERT(mentions(error_of("3 V1 Nx\n"), "line 1"));
    CPPUNIT_ASSERT(mentions(error_of("3 V1 N4\n1 :a\n1 :b\n"), "line 3"));
    CPPUNIT_ASSERT(mentions(error_of("3 V1 N4\n2 :a\n1 :b\n"), "line 3"));
    CPPUNIT_ASSERT(mentions(error_of("3 V1 N4\n0 :a\n"), "line 2"));
    CPPUNIT_ASSERT(mentions(error_of("3 V1 N4\nx :a\n"), "line 2"));
    CPPUNIT_ASSERT(mentions(error_of("3 V1 N4\n4294967295 :a\n"), "line 2"));
    CPPUNIT_ASSERT(mentions(error_of("3 V1 N4\n1 W12 a\n"), "line 2"));
    CPPUNIT_ASSERT(mentions(error_of("3 V1 N4\n1 :\n"), "line 2"));
    CPPUNIT_ASSERT(mentions(error_of("3 V1 N4\n1 Wx :a\n"), "line 2"));
    CPPUNIT_ASSERT(mentions(error_of("3 V1 N4\n1 O-1 :a\n"), "line 2"));
    CPPUNIT_ASSERT(mentions(error_of("3 V1 N4\n1 :a\n\n"), "line 3"));
  }

  void bounded() {
    const std::string long_line = "3 V1 N4\n1 :" + std::string(kMaxUidlistLine, 'a') + "\n";
    CPPUNIT_ASSERT(mentions(error_of(long_line), "line 2"));
    CPPUNIT_ASSERT(
        mentions(error_of("3 V1 N4\n1 :" + std::string(kMaxUidlistLine, 'a')), "too long"));
    std::string many = "3 V1 N2\n";
    for (size_t i = 1; i <= kMaxUidlistEntries + 1; ++i) many += std::to_string(i) + " :a\n";
    CPPUNIT_ASSERT(mentions(error_of(many), "entries"));
  }

  void new_file_in_dovecot_format() {
    TempDir dir;
    auto l =
        assign_dovecot_uids(dir.path(), {"1.a", "2.b"}, 1796164908, std::chrono::milliseconds(0));
    CPPUNIT_ASSERT(l.ok());
    const std::string text = testing::read_file(dir / kDovecotUidlistFile);
    // Header "3 V.. N.. G<32 hex>" then one line per message, as Dovecot writes.
    const std::string head = "3 V1796164908 N3 G";
    CPPUNIT_ASSERT_EQUAL(head, text.substr(0, head.size()));
    const size_t nl = text.find('\n');
    CPPUNIT_ASSERT_EQUAL(head.size() + 32, nl);
    CPPUNIT_ASSERT_EQUAL(std::string("1 :1.a\n2 :2.b\n"), text.substr(nl + 1));
    CPPUNIT_ASSERT(!testing::exists(dir / kDovecotUidlistLockFile));
    auto again = parse_dovecot_uidlist(text);
    CPPUNIT_ASSERT(again.ok());
    CPPUNIT_ASSERT_EQUAL(uint32_t{3}, again->next_uid);
    CPPUNIT_ASSERT_EQUAL(uint32_t{2}, l->entries[1].uid);
  }

  void appends_only_new_names_keeping_old_bytes() {
    TempDir dir;
    testing::write_file(dir / kDovecotUidlistFile, kAppended);
    struct stat before {};
    CPPUNIT_ASSERT_EQUAL(0, stat((dir / kDovecotUidlistFile).c_str(), &before));
    auto l = assign_dovecot_uids(dir.path(), {"1700000001.M1P100.host,S=26", "9.new", "10.new"}, 1,
                                 std::chrono::milliseconds(0));
    CPPUNIT_ASSERT(l.ok());
    CPPUNIT_ASSERT_EQUAL(std::string(kAppended) + "6 :9.new\n7 :10.new\n",
                         testing::read_file(dir / kDovecotUidlistFile));
    struct stat after {};
    CPPUNIT_ASSERT_EQUAL(0, stat((dir / kDovecotUidlistFile).c_str(), &after));
    CPPUNIT_ASSERT_EQUAL(before.st_ino, after.st_ino);  // appended, not replaced
    CPPUNIT_ASSERT_EQUAL(uint32_t{8}, l->next_uid);
    // Nothing new: nothing written.
    auto same = assign_dovecot_uids(dir.path(), {"9.new"}, 1, std::chrono::milliseconds(0));
    CPPUNIT_ASSERT(same.ok());
    CPPUNIT_ASSERT_EQUAL(std::string(kAppended) + "6 :9.new\n7 :10.new\n",
                         testing::read_file(dir / kDovecotUidlistFile));
  }

  void torn_file_rewritten_without_the_torn_line() {
    TempDir dir;
    testing::write_file(dir / kDovecotUidlistFile, std::string(kPlain) + "4 W3 :x");
    auto l = assign_dovecot_uids(dir.path(), {"7.n"}, 1, std::chrono::milliseconds(0));
    CPPUNIT_ASSERT(l.ok());
    CPPUNIT_ASSERT_EQUAL(std::string(kPlain) + "4 :7.n\n",
                         testing::read_file(dir / kDovecotUidlistFile));
  }

  void live_lock_is_waited_for_then_refused() {
    TempDir dir;
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    const pid_t holder = fork();
    if (holder == 0) {
      pause();
      _exit(0);
    }
    testing::write_file(dir / kDovecotUidlistLockFile, std::to_string(holder) + ":" + host);
    auto l = lock_dovecot_uidlist(dir.path(), std::chrono::milliseconds(120));
    kill(holder, SIGKILL);
    waitpid(holder, nullptr, 0);
    CPPUNIT_ASSERT(!l.ok());
    CPPUNIT_ASSERT_EQUAL(EWOULDBLOCK, l.error().sys_errno);
    // A fresh lock from another host cannot be judged by pid: it stands.
    testing::write_file(dir / kDovecotUidlistLockFile, "1:some-other-host");
    CPPUNIT_ASSERT(!lock_dovecot_uidlist(dir.path(), std::chrono::milliseconds(0)).ok());
    auto w = assign_dovecot_uids(dir.path(), {"1.a"}, 5, std::chrono::milliseconds(0));
    CPPUNIT_ASSERT(!w.ok());
    CPPUNIT_ASSERT(!testing::exists(dir / kDovecotUidlistFile));
  }

  void stale_locks_are_broken() {
    TempDir dir;
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    const pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, nullptr, 0);
    testing::write_file(dir / kDovecotUidlistLockFile, std::to_string(child) + ":" + host);
    {
      auto l = lock_dovecot_uidlist(dir.path(), std::chrono::milliseconds(0));
      CPPUNIT_ASSERT(l.ok());
      // Ours now, saying who holds it the way Dovecot's does.
      CPPUNIT_ASSERT_EQUAL(std::to_string(getpid()) + ":" + host,
                           testing::read_file(dir / kDovecotUidlistLockFile));
    }
    CPPUNIT_ASSERT(!testing::exists(dir / kDovecotUidlistLockFile));
    // Untouched for longer than Dovecot's two minutes: stale, whoever wrote it.
    testing::write_file(dir / kDovecotUidlistLockFile, "1:some-other-host");
    const timespec old[2] = {{time(nullptr) - 300, 0}, {time(nullptr) - 300, 0}};
    CPPUNIT_ASSERT_EQUAL(0, utimensat(AT_FDCWD, (dir / kDovecotUidlistLockFile).c_str(), old, 0));
    CPPUNIT_ASSERT(lock_dovecot_uidlist(dir.path(), std::chrono::milliseconds(0)).ok());
  }

  void absent_file_reads_as_none() {
    TempDir dir;
    auto r = read_dovecot_uidlist(dir.path());
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT(!r->has_value());
    testing::write_file(dir / kDovecotUidlistFile, "garbage\n");
    r = read_dovecot_uidlist(dir.path());
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT(mentions(r.error().message, "line 1"));
    testing::write_file(dir / kDovecotUidlistFile, kSavedUidls);
    r = read_dovecot_uidlist(dir.path());
    CPPUNIT_ASSERT(r.ok() && r->has_value());
    CPPUNIT_ASSERT_EQUAL(size_t{3}, (*r)->entries.size());
  }

  void control_dir_from_mail_location() {
    // Where Dovecot looks for dovecot-uidlist: CONTROL= when given.
    auto p = split_maildir_options("/h/a/Maildir:CONTROL=~/.control:INDEX=/var/ix", "/h/a");
    CPPUNIT_ASSERT(p.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("/h/a/Maildir"), p->maildir);
    CPPUNIT_ASSERT_EQUAL(std::string("/h/a/.control"), p->control_dir);
    p = split_maildir_options("/h/a/Maildir:LAYOUT=fs:CONTROL=/c/a", "/h/a");
    CPPUNIT_ASSERT_EQUAL(std::string("/c/a"), p->control_dir);
    p = split_maildir_options("/h/a/Maildir:CONTROL=ctl", "/h/a");
    CPPUNIT_ASSERT_EQUAL(std::string("/h/a/ctl"), p->control_dir);
    // No options: the Maildir itself; a ':' that starts no option stays.
    p = split_maildir_options("/h/a:b/Maildir", "/h/a");
    CPPUNIT_ASSERT_EQUAL(std::string("/h/a:b/Maildir"), p->maildir);
    CPPUNIT_ASSERT_EQUAL(std::string("/h/a:b/Maildir"), p->control_dir);
    CPPUNIT_ASSERT(!split_maildir_options("/h/a/Maildir:CONTROL=", "/h/a").ok());
    CPPUNIT_ASSERT(!split_maildir_options("/m:CONTROL=~/c", "").ok());
    CPPUNIT_ASSERT(!split_maildir_options(":CONTROL=/c", "/h").ok());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DovecotUidlistTest);

}  // namespace pop3d
