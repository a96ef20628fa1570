// MaildirStore with its UID sources: what a session lists for a Maildir
// with a dovecot-uidlist (uids, P and O fields, new mail appended) and for
// one without (file-name UIDLs, nothing written).
#include <cppunit/extensions/HelperMacros.h>

#include <string>
#include <vector>

#include "maildir_test_util.hpp"
#include "mailstore/dovecot_uidlist.hpp"
#include "mailstore/maildir_store.hpp"
#include "uid_source_test_util.hpp"

namespace pop3d {

using testing::exists;
using testing::make_maildir;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

using testing::bodies;
using testing::listing;
using testing::open_with;

namespace {}  // namespace

class MaildirUidSourceTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MaildirUidSourceTest);
  CPPUNIT_TEST(uidlist_gives_dovecot_uidls_and_order);
  CPPUNIT_TEST(new_mail_is_appended_and_stable);
  CPPUNIT_TEST(deletion_follows_the_session_order);
  CPPUNIT_TEST(no_uidlist_keeps_file_names_and_writes_nothing);
  CPPUNIT_TEST(format_with_uids_creates_a_uidlist);
  CPPUNIT_TEST(control_dir_holds_the_uidlist);
  CPPUNIT_TEST(broken_uidlist_fails_the_open);
  CPPUNIT_TEST_SUITE_END();

 public:
  void uidlist_gives_dovecot_uidls_and_order() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    // Delivery order a, b, c; the uidlist puts c first (O1), then by uid.
    write_file(md + "/cur/1700000001.a:2,S", "A\r\n");
    write_file(md + "/cur/1700000002.b:2,", "B\r\n");
    write_file(md + "/new/1700000003.c", "C\r\n");
    write_file(md + "/" + kDovecotUidlistFile,
               "3 V1796164908 N9 Gx\n"
               "2 P :1700000001.a\n"
               "5 :1700000002.b:2,\n"
               "7 O1 Pkept-uidl :1700000003.c\n");
    auto drop = open_with(md);
    CPPUNIT_ASSERT_EQUAL(std::string("kept-uidl\n1700000001.a\n000000056b0f4d2c\n"),
                         listing(*drop));
    CPPUNIT_ASSERT_EQUAL(std::string("C\r\nA\r\nB\r\n"), bodies(*drop));
    CPPUNIT_ASSERT_EQUAL(uint64_t{3}, drop->size(0));
  }

  void new_mail_is_appended_and_stable() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    const std::string head = "3 V1796164908 N2 Gx\n1 :1700000001.a\n";
    write_file(md + "/cur/1700000001.a:2,S", "A\r\n");
    write_file(md + "/new/1700000005.n", "N\r\n");
    write_file(md + "/new/1700000004.m", "M\r\n");
    write_file(md + "/" + kDovecotUidlistFile, head);
    const std::string expect = "000000016b0f4d2c\n000000026b0f4d2c\n000000036b0f4d2c\n";
    {
      auto drop = open_with(md);
      CPPUNIT_ASSERT_EQUAL(expect, listing(*drop));
      CPPUNIT_ASSERT_EQUAL(std::string("A\r\nM\r\nN\r\n"), bodies(*drop));
    }
    // Appended in delivery order, under a lock that is gone again.
    CPPUNIT_ASSERT_EQUAL(head + "2 :1700000004.m\n3 :1700000005.n\n",
                         read_file(md + "/" + kDovecotUidlistFile));
    CPPUNIT_ASSERT(!exists(md + "/" + kDovecotUidlistLockFile));
    auto again = open_with(md);
    CPPUNIT_ASSERT_EQUAL(expect, listing(*again));
  }

  void deletion_follows_the_session_order() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    write_file(md + "/cur/1700000001.a:2,", "A\r\n");
    write_file(md + "/cur/1700000002.b:2,", "B\r\n");
    write_file(md + "/" + kDovecotUidlistFile,
               "3 V1 N3 Gx\n1 O2 :1700000001.a\n2 O1 :1700000002.b\n");
    auto drop = open_with(md);
    CPPUNIT_ASSERT_EQUAL(std::string("B\r\nA\r\n"), bodies(*drop));
    // Session message 1 is b: deleting it must remove b, not a.
    auto st = drop->commit({true, false});
    CPPUNIT_ASSERT(st.ok());
    CPPUNIT_ASSERT(!exists(md + "/cur/1700000002.b:2,"));
    CPPUNIT_ASSERT(exists(md + "/cur/1700000001.a:2,"));
  }

  void no_uidlist_keeps_file_names_and_writes_nothing() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    write_file(md + "/new/1700000002.b", "B\r\n");
    write_file(md + "/cur/1700000001.a:2,S", "A\r\n");
    {
      auto drop = open_with(md);
      CPPUNIT_ASSERT_EQUAL(std::string("1700000001.a\n1700000002.b\n"), listing(*drop));
      CPPUNIT_ASSERT(!exists(md + "/" + kDovecotUidlistFile));
    }
    // A format without uids works from the names alone, and writes nothing.
    auto upper = open_with(md, *UidlChoice::parse("%Uf"));
    CPPUNIT_ASSERT_EQUAL(std::string("1700000001.A\n1700000002.B\n"), listing(*upper));
    CPPUNIT_ASSERT(!exists(md + "/" + kDovecotUidlistFile));
  }

  void format_with_uids_creates_a_uidlist() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    write_file(md + "/cur/1700000001.a:2,S", "A\r\n");
    write_file(md + "/new/1700000002.b", "B\r\n");
    auto drop = open_with(md, *UidlChoice::parse("%u-%v"));
    auto list = read_dovecot_uidlist(md);
    CPPUNIT_ASSERT(list.ok() && list->has_value());
    const std::string v = std::to_string((*list)->uidvalidity);
    CPPUNIT_ASSERT_EQUAL("1-" + v + "\n2-" + v + "\n", listing(*drop));
    CPPUNIT_ASSERT_EQUAL(std::string("1700000002.b"), (*list)->entries[1].base_name);
  }

  void control_dir_holds_the_uidlist() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    std::filesystem::create_directories(dir / "control");
    write_file(md + "/cur/1700000001.a:2,S", "A\r\n");
    write_file(dir / "control/dovecot-uidlist", "3 V16 N5 Gx\n4 :1700000001.a\n");
    // In the Maildir, the uidlist of some other mailbox: not the one used.
    write_file(md + "/" + kDovecotUidlistFile, "3 V17 N9 Gx\n8 :1700000001.a\n");
    auto drop = open_with(md + ":CONTROL=" + (dir / "control") + ":INDEX=/x");
    CPPUNIT_ASSERT_EQUAL(std::string("0000000400000010\n"), listing(*drop));
  }

  void broken_uidlist_fails_the_open() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    write_file(md + "/cur/1700000001.a:2,S", "A\r\n");
    write_file(md + "/" + kDovecotUidlistFile, "3 V1 N5\n2 :x\n1 :y\n");
    MaildirStore store;
    UserRecord u;
    u.maildir = md;
    OpenOutcome out = store.open(u);
    CPPUNIT_ASSERT(out.status == OpenStatus::kTempFail);
    CPPUNIT_ASSERT(out.reason.find("line 3") != std::string::npos);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MaildirUidSourceTest);

}  // namespace pop3d
