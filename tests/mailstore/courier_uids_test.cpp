// The files, UIDLs and orders here are what Courier's pop3d 1.0.16
// (courier-pop 1.0.16-3+b6, Debian 12; /usr/lib/courier/courier/courierpop3d
// run on a Maildir with AUTHENTICATED and TCPREMOTEIP set) read, presented
// and wrote: each expected value below was first seen from that binary.
#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>

#include <string>
#include <vector>

#include "maildir_test_util.hpp"
#include "mailstore/courier_uids.hpp"
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

namespace {

std::time_t fixed_clock(std::time_t* t) {
  if (t) *t = 1796175525;
  return 1796175525;
}

std::string error_of(std::string_view text) {
  auto r = parse_courier_sizelist(text);
  return r.ok() ? std::string("parsed") : r.error().message;
}

bool mentions(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The plan's UIDLs in session order.
std::string planned(const UidPlan& p) {
  std::string out;
  for (size_t i = 0; i < p.uidls.size(); ++i) {
    out += p.uidls[p.order.empty() ? i : p.order[i]] + "\n";
  }
  return out;
}

}  // namespace

class CourierUidsTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(CourierUidsTest);
  CPPUNIT_TEST(parses_what_courier_wrote);
  CPPUNIT_TEST(version_2_lines_and_short_header);
  CPPUNIT_TEST(uidl_kinds);
  CPPUNIT_TEST(courier_order);
  CPPUNIT_TEST(malformed_input_names_the_line);
  CPPUNIT_TEST(bounded);
  CPPUNIT_TEST(sizes_as_courier_counts);
  CPPUNIT_TEST(store_presents_courier_uidls_in_courier_order);
  CPPUNIT_TEST(new_mail_recorded_as_courier_records_it);
  CPPUNIT_TEST(rewrite_keeps_courier_lines);
  CPPUNIT_TEST(version_2_file_stays_version_2);
  CPPUNIT_TEST(next_uid_never_reuses_one);
  CPPUNIT_TEST(new_message_in_cur_keeps_its_name);
  CPPUNIT_TEST(imap_only_maildir_gets_a_sizelist);
  CPPUNIT_TEST(auto_prefers_dovecot_then_courier);
  CPPUNIT_TEST(broken_sizelist_fails_the_open);
  CPPUNIT_TEST_SUITE_END();

 public:
  void parses_what_courier_wrote() {
    auto l = parse_courier_sizelist(
        "/3 5 1796175525\n"
        "1700000000.M0P1.host:2,S 19 1:1796175525:0\n"
        "1700000001.M1P1.host:2, 17 2:1796175525:1\n");
    CPPUNIT_ASSERT(l.ok());
    CPPUNIT_ASSERT_EQUAL(3, l->version);
    CPPUNIT_ASSERT_EQUAL(uint64_t{5}, l->next_uid);
    CPPUNIT_ASSERT(l->uidvalidity == uint64_t{1796175525});
    CPPUNIT_ASSERT_EQUAL(size_t{2}, l->entries.size());
    const SizelistEntry& e = l->entries[1];
    CPPUNIT_ASSERT_EQUAL(std::string("1700000001.M1P1.host:2,"), e.file_name);
    CPPUNIT_ASSERT_EQUAL(std::string("1700000001.M1P1.host"), std::string(e.key()));
    CPPUNIT_ASSERT_EQUAL(uint64_t{17}, e.size);
    CPPUNIT_ASSERT_EQUAL(uint64_t{2}, e.uid);
    CPPUNIT_ASSERT(e.utf8 == true);
    CPPUNIT_ASSERT_EQUAL(std::string("1700000001.M1P1.host:2, 17 2:1796175525:1"), e.line);
    CPPUNIT_ASSERT_EQUAL(std::string("UID2-1796175525"), courier_uidl(e));
  }

  void version_2_lines_and_short_header() {
    // Courier reads version 2 files, and version 2 lines in a version 3
    // file ("999.x:2, 14 20:777" gave UID20-777).
    auto l = parse_courier_sizelist("/2 5 42\n100.a 5 1:42\n101.b:2,S 5 2:42:0\n");
    CPPUNIT_ASSERT(l.ok());
    CPPUNIT_ASSERT_EQUAL(2, l->version);
    CPPUNIT_ASSERT(!l->entries[0].utf8.has_value());
    CPPUNIT_ASSERT_EQUAL(std::string("UID1-42"), courier_uidl(l->entries[0]));
    // A header without uidvalidity: Courier then takes the time for new mail.
    auto s = parse_courier_sizelist("/3 2\n");
    CPPUNIT_ASSERT(s.ok());
    CPPUNIT_ASSERT(!s->uidvalidity.has_value());
    // A file that went through CRLF conversion still reads in Courier.
    auto crlf = parse_courier_sizelist("/3 5 42\r\n100.a 5 1:42:0\r\n");
    CPPUNIT_ASSERT(crlf.ok());
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, crlf->entries[0].uid);
    CPPUNIT_ASSERT_EQUAL(std::string("100.a 5 1:42:0\r"), crlf->entries[0].line);
    // Spaces in a file name: the numbers are the last two words.
    auto sp = parse_courier_sizelist("/3 5 42\n 7.s p:2, 11 53:777:0\n");
    CPPUNIT_ASSERT(sp.ok());
    CPPUNIT_ASSERT_EQUAL(std::string(" 7.s p:2,"), sp->entries[0].file_name);
  }

  void uidl_kinds() {
    SizelistEntry e;
    e.file_name = "1700000005.a:2,S";
    e.uid = 3;
    e.uidvalidity = 777;
    CPPUNIT_ASSERT_EQUAL(std::string("UID3-777"), courier_uidl(e));
    e.uidvalidity = 0;  // "1700000010.z 12 4:0:0" gave UID4
    e.uid = 4;
    CPPUNIT_ASSERT_EQUAL(std::string("UID4"), courier_uidl(e));
    e.uid = 0;  // "1700000005.a:2, 11 0:0:0" gave the base name
    CPPUNIT_ASSERT_EQUAL(std::string("1700000005.a"), courier_uidl(e));
    e.file_name = "1.a b+'\"\xe9:2,";
    CPPUNIT_ASSERT_EQUAL(std::string("1.a+20b+2B+27+22+E9"), courier_uidl(e));
  }

  void courier_order() {
    // The order Courier listed these names in: atol of the name (leading
    // space and '+' taken, too large saturating), then bytes up to ':'.
    const std::vector<std::string> courier = {"0x10.h",
                                              "abc",
                                              "+5.p",
                                              " 7.sp",
                                              "999.x",
                                              "1700000005.a-b",
                                              "1700000005.a",
                                              "1700000005.b",
                                              "1700000009.q",
                                              "1700000010.z",
                                              "99999999999999999999.big"};
    for (size_t i = 0; i + 1 < courier.size(); ++i) {
      CPPUNIT_ASSERT_MESSAGE(courier[i], courier_name_compare(courier[i], courier[i + 1]) < 0);
      CPPUNIT_ASSERT_MESSAGE(courier[i], courier_name_compare(courier[i + 1], courier[i]) > 0);
    }
    CPPUNIT_ASSERT_EQUAL(0, courier_name_compare("1700000005.a:2,S", "1700000005.a:2,"));
    CPPUNIT_ASSERT_EQUAL(0, courier_name_compare("1700000005.a", "1700000005.a:2,T"));
  }

  void malformed_input_names_the_line() {
    CPPUNIT_ASSERT(mentions(error_of(""), "line 1"));
    CPPUNIT_ASSERT(mentions(error_of("100.a 5 1:42:0\n"), "line 1"));
    CPPUNIT_ASSERT(mentions(error_of("/1 5 42\n"), "version"));
    CPPUNIT_ASSERT(mentions(error_of("/3\n"), "line 1"));
    CPPUNIT_ASSERT(mentions(error_of("/3 0 42\n"), "next uid"));
    CPPUNIT_ASSERT(mentions(error_of("/3 5 42 9\n"), "line 1"));
    CPPUNIT_ASSERT(mentions(error_of("/3 -5 42\n"), "next uid"));
    CPPUNIT_ASSERT(mentions(error_of("/3 5 42\nok 1 1:1:0\ngarbage line here\n"), "line 3"));
    CPPUNIT_ASSERT(mentions(error_of("/3 5 42\nx 1 2\n"), "line 2"));
    CPPUNIT_ASSERT(mentions(error_of("/3 5 42\nx 1 2:3:7\n"), "utf8"));
    CPPUNIT_ASSERT(mentions(error_of("/3 5 42\nx +1 2:3:0\n"), "size"));
    CPPUNIT_ASSERT(mentions(error_of("/3 5 42\nx 1 :3:0\n"), "uid"));
    CPPUNIT_ASSERT(mentions(error_of("/3 5 42\nx 1 2::0\n"), "uidvalidity"));
    CPPUNIT_ASSERT(mentions(error_of("/3 5 42\n 1 2:3:0\n"), "line 2"));
    const char with_nul[] = "/3 5 42\nx\0y 1 2:3:0\n";
    CPPUNIT_ASSERT(mentions(error_of(std::string(with_nul, sizeof with_nul - 1)), "NUL"));
    // Courier ignores a last line without its newline; it never writes one.
    CPPUNIT_ASSERT(mentions(error_of("/3 5 42\nx 1 2:3:0"), "line 2"));
    CPPUNIT_ASSERT(mentions(error_of("/3 5 42"), "line 1"));
  }

  void bounded() {
    CPPUNIT_ASSERT(
        mentions(error_of("/3 5 42\n" + std::string(kMaxSizelistLine + 1, 'x') + "\n"), "longer"));
    CPPUNIT_ASSERT(mentions(error_of("/3 5 42\nx 1 9223372036854775808:1:0\n"), "uid"));
    CPPUNIT_ASSERT(mentions(error_of("/3 9223372036854775808 42\n"), "next uid"));
    CPPUNIT_ASSERT(mentions(error_of("/3 5 42\nx 18446744073709551616 1:1:0\n"), "size"));
    auto top = parse_courier_sizelist("/3 9223372036854775807 9223372036854775807\n");
    CPPUNIT_ASSERT(top.ok());
  }

  void sizes_as_courier_counts() {
    // Courier's LIST sizes for these files (bytes, then what it said).
    struct Case {
      std::string text;
      uint64_t size;
      bool utf8;
    };
    const std::vector<Case> cases = {
        {"S: x\n\nx", 9, false},
        {"S: x\r\n\r\nx\r\n", 14, false},
        {"S: \xc3\xa9\n\nx\n", 12, true},
        {"S: x\n\n\xc3\xa9\n", 12, false},
        {"S: x\nX: \x80\n\nx\n", 17, true},
        {"", 0, false},
        {"S: x\n", 6, false},
    };
    for (const Case& c : cases) {
      CourierMeasurer m;
      // Fed in pieces, as files are read.
      for (char ch : c.text) m.feed(std::string_view(&ch, 1));
      CPPUNIT_ASSERT_EQUAL_MESSAGE(c.text, c.size, m.result().size);
      CPPUNIT_ASSERT_EQUAL_MESSAGE(c.text, c.utf8, m.result().utf8);
    }
  }

  void store_presents_courier_uidls_in_courier_order() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    write_file(md + "/cur/1700000001.M1P1.host:2,S", "A\n");
    write_file(md + "/cur/1700000002.M2P1.host:2,", "B\n");
    write_file(md + "/cur/1700000003.M3P1.host:2,", "C\n");
    write_file(md + "/cur/999.x:2,", "X\n");
    // No timestamp: last in delivery order, first in Courier's (atol 0).
    write_file(md + "/cur/abc:2,", "Z\n");
    const std::string file =
        "/3 5 1796175525\n"
        "1700000001.M1P1.host:2, 17 2:1796175525:0\n"
        "1700000002.M2P1.host:2, 18 3:1796175525:0\n"
        "1700000003.M3P1.host:2, 17 4:1796175525:0\n"
        "999.x:2, 14 20:777:0\n"
        "abc:2, 4 21:777:0\n";
    write_file(md + "/" + kCourierSizelistFile, file);
    auto drop = open_with(md);
    CPPUNIT_ASSERT_EQUAL(std::string("UID21-777\nUID20-777\nUID2-1796175525\nUID3-1796175525\n"
                                     "UID4-1796175525\n"),
                         listing(*drop));
    CPPUNIT_ASSERT_EQUAL(std::string("Z\nX\nA\nB\nC\n"), bodies(*drop));
    // Nothing new: the file is left exactly as Courier wrote it.
    CPPUNIT_ASSERT_EQUAL(file, read_file(md + "/" + kCourierSizelistFile));
  }

  void new_mail_recorded_as_courier_records_it() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    write_file(md + "/cur/1700000001.M1P1.host:2,S", "Subject: a\n\nA\n");
    write_file(md + "/new/1700000003.M3P1.host", "Subject: d\n\nD\n");
    write_file(md + "/new/1700000002.M2P1.host", "Subject: b\n\nBB\n");
    const std::string old_line = "1700000001.M1P1.host:2, 17 2:1796175525:0\n";
    write_file(md + "/" + kCourierSizelistFile, "/3 5 1796175525\n" + old_line);
    CourierUids source(md, &fixed_clock);
    auto p = source.plan({"1700000001.M1P1.host", "1700000003.M3P1.host", "1700000002.M2P1.host"});
    CPPUNIT_ASSERT(p.ok());
    const std::string expect = "UID2-1796175525\nUID5-1796175525\nUID6-1796175525\n";
    CPPUNIT_ASSERT_EQUAL(expect, planned(*p));
    // Numbered in Courier's order; named as they will be in cur/ (Courier
    // matches by the part before ':'); sized as Courier counts.
    const std::string written = "/3 7 1796175525\n" + old_line +
                                "1700000002.M2P1.host:2, 18 5:1796175525:0\n"
                                "1700000003.M3P1.host:2, 17 6:1796175525:0\n";
    CPPUNIT_ASSERT_EQUAL(written, read_file(md + "/" + kCourierSizelistFile));
    // Nothing left in tmp/, and the next session sees the same.
    CPPUNIT_ASSERT(std::filesystem::is_empty(md + "/tmp"));
    auto again = open_with(md);
    CPPUNIT_ASSERT_EQUAL(expect, listing(*again));
    CPPUNIT_ASSERT_EQUAL(written, read_file(md + "/" + kCourierSizelistFile));
  }

  void rewrite_keeps_courier_lines() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    write_file(md + "/cur/10.a:2,S", "A\n");
    write_file(md + "/cur/11.b:2,", "B\n");
    write_file(md + "/new/12.c", "C\n");
    // Lines as Courier may have left them: a stale flag part, a version 2
    // line, a CR, a gone message, a second line for one name.
    write_file(md + "/" + kCourierSizelistFile,
               "/3 30 9\n"
               "11.b:2,T 7 21:9:1\r\n"
               "9.gone:2, 2 19:9:0\n"
               "10.a:2, 5 20:9\n"
               "10.a:2,S 5 25:9:0\n");
    CourierUids source(md, &fixed_clock);
    auto p = source.plan({"10.a", "11.b", "12.c"});
    CPPUNIT_ASSERT(p.ok());
    // Courier gave UID25-9, UID21-9, UID30-9: of two lines for 10.a the
    // last one counts.
    CPPUNIT_ASSERT_EQUAL(std::string("UID25-9\nUID21-9\nUID30-9\n"), planned(*p));
    CPPUNIT_ASSERT_EQUAL(std::string("/3 31 9\n"
                                     "11.b:2,T 7 21:9:1\r\n"
                                     "10.a:2,S 5 25:9:0\n"
                                     "12.c:2, 3 30:9:0\n"),
                         read_file(md + "/" + kCourierSizelistFile));
  }

  void version_2_file_stays_version_2() {
    // An older Courier (courier-imap 4) reads only version 2; a rollback to
    // it must still find its file.
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    write_file(md + "/cur/10.a:2,S", "A\n");
    write_file(md + "/new/12.c", "C\n");
    write_file(md + "/" + kCourierSizelistFile, "/2 3 9\n10.a:2,S 3 2:9\n");
    CourierUids source(md, &fixed_clock);
    auto p = source.plan({"10.a", "12.c"});
    CPPUNIT_ASSERT(p.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("/2 4 9\n10.a:2,S 3 2:9\n12.c:2, 3 3:9\n"),
                         read_file(md + "/" + kCourierSizelistFile));
  }

  void next_uid_never_reuses_one() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    write_file(md + "/cur/10.a:2,", "A\n");
    write_file(md + "/cur/11.b:2,", "B\n");
    write_file(md + "/new/12.c", "C\n");
    // Courier would give 12.c uid 2 again (it trusts the header); a client
    // would then see two messages as one.
    write_file(md + "/" + kCourierSizelistFile, "/3 2 9\n10.a:2, 2 2:9:0\n11.b:2, 2 7:8:0\n");
    CourierUids source(md, &fixed_clock);
    auto p = source.plan({"10.a", "11.b", "12.c"});
    CPPUNIT_ASSERT(p.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("UID2-9\nUID7-8\nUID3-9\n"), planned(*p));
  }

  void new_message_in_cur_keeps_its_name() {
    // An IMAP client moved it to cur/ and flagged it before any POP3 login.
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    write_file(md + "/cur/10.a:2,FS", "Subject: \xe9\n\nA\n");
    CourierUids source(md, &fixed_clock);
    auto p = source.plan({"10.a"});
    CPPUNIT_ASSERT(p.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("UID1-1796175525\n"), planned(*p));
    CPPUNIT_ASSERT_EQUAL(std::string("/3 2 1796175525\n10.a:2,FS 17 1:1796175525:1\n"),
                         read_file(md + "/" + kCourierSizelistFile));
  }

  void imap_only_maildir_gets_a_sizelist() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    // What Courier's imapd wrote; its pop3d never reads it.
    write_file(md + "/" + kCourierImapUiddbFile, "1 796175626 3\n1 99.b\n2 100.a\n");
    write_file(md + "/cur/99.b:2,S", "B\n");
    write_file(md + "/cur/100.a:2,", "A\n");
    const std::time_t before = std::time(nullptr);
    auto drop = open_with(md);
    const std::time_t after = std::time(nullptr);
    auto list = read_courier_sizelist(md);
    CPPUNIT_ASSERT(list.ok() && list->has_value());
    const uint64_t v = *(*list)->uidvalidity;
    CPPUNIT_ASSERT(v >= static_cast<uint64_t>(before) && v <= static_cast<uint64_t>(after));
    const std::string vs = std::to_string(v);
    CPPUNIT_ASSERT_EQUAL("UID1-" + vs + "\nUID2-" + vs + "\n", listing(*drop));
    CPPUNIT_ASSERT_EQUAL(std::string("B\nA\n"), bodies(*drop));
    CPPUNIT_ASSERT(!exists(md + "/" + kDovecotUidlistFile));
  }

  void auto_prefers_dovecot_then_courier() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    write_file(md + "/cur/1700000001.a:2,S", "A\n");
    const std::string courier = "/3 9 42\n1700000001.a:2,S 3 8:42:0\n";
    write_file(md + "/" + kCourierSizelistFile, courier);
    {
      auto drop = open_with(md);
      CPPUNIT_ASSERT_EQUAL(std::string("UID8-42\n"), listing(*drop));
    }
    // An explicit format is today's behaviour: Courier's files do not count.
    {
      auto drop = open_with(md, *UidlChoice::parse("%f"));
      CPPUNIT_ASSERT_EQUAL(std::string("1700000001.a\n"), listing(*drop));
    }
    write_file(md + "/" + kDovecotUidlistFile, "3 V16 N5 Gx\n4 :1700000001.a\n");
    {
      auto drop = open_with(md);
      CPPUNIT_ASSERT_EQUAL(std::string("0000000400000010\n"), listing(*drop));
    }
    CPPUNIT_ASSERT_EQUAL(courier, read_file(md + "/" + kCourierSizelistFile));
  }

  void broken_sizelist_fails_the_open() {
    TempDir dir;
    const std::string md = dir / "Maildir";
    make_maildir(md);
    write_file(md + "/cur/1700000001.a:2,S", "A\n");
    write_file(md + "/" + kCourierSizelistFile, "/3 5 42\n1700000001.a:2,S 3 x:42:0\n");
    MaildirStore store;
    UserRecord u;
    u.maildir = md;
    OpenOutcome out = store.open(u);
    CPPUNIT_ASSERT(out.status == OpenStatus::kTempFail);
    CPPUNIT_ASSERT(mentions(out.reason, "courierpop3dsizelist line 2"));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CourierUidsTest);

}  // namespace pop3d
