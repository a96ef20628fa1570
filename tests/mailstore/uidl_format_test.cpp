// Expected values are what Dovecot 2.3.19.1 (9b53102964), Debian 12's
// dovecot-pop3d, answered to UIDL with each pop3_uidl_format, serving a
// Maildir of three messages via passwd-file auth, mail_location = maildir:,
// pop3_lock_session = yes. Its dovecot-uidlist had
// "3 V1796164908 N4 G675d2329..." and uids 1-3 for the base names below;
// formats marked "refused" made doveconf fail with the message noted.
#include <cppunit/extensions/HelperMacros.h>

#include <string>

#include "mailstore/uidl_format.hpp"

namespace pop3d {

namespace {

constexpr uint32_t kValidity = 1796164908;  // 0x6b0f4d2c
const char* const kName1 = "1700000001.M1P100.host,S=26";

std::string dovecot(const std::string& format, uint32_t uid = 1, const char* name = kName1) {
  auto f = UidlFormat::parse(format);
  if (!f.ok()) return "refused: " + f.error().message;
  return f->expand(UidlFields{uid, kValidity, name, {}});
}

bool refused(const std::string& format) {
  return !UidlFormat::parse(format).ok();
}

}  // namespace

class UidlFormatTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(UidlFormatTest);
  CPPUNIT_TEST(default_format_is_lower_case_hex);
  CPPUNIT_TEST(plain_variables);
  CPPUNIT_TEST(widths_pad_only_with_zero_else_cut);
  CPPUNIT_TEST(offsets);
  CPPUNIT_TEST(modifiers_apply_left_to_right_before_width);
  CPPUNIT_TEST(literals_and_percent);
  CPPUNIT_TEST(refused_like_dovecot);
  CPPUNIT_TEST(refused_by_pop3d_alone);
  CPPUNIT_TEST(needs_uids);
  CPPUNIT_TEST(invalid_results_become_file_name_uidls);
  CPPUNIT_TEST_SUITE_END();

 public:
  void default_format_is_lower_case_hex() {
    CPPUNIT_ASSERT_EQUAL(std::string("000000016b0f4d2c"), dovecot("%08Xu%08Xv"));
    CPPUNIT_ASSERT_EQUAL(std::string("000000036b0f4d2c"), dovecot("%08Xu%08Xv", 3));
    // Seen after a delivery: uid 4 under another uidvalidity (0x6b0f5024).
    auto f = UidlFormat::parse(std::string(UidlFormat::kDovecotDefault));
    CPPUNIT_ASSERT(f.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("000000046b0f5024"),
                         f->uidl(UidlFields{4, 1796165668, "1700000004.M4P100.host", {}}));
  }

  void plain_variables() {
    CPPUNIT_ASSERT_EQUAL(std::string("1"), dovecot("%u"));
    CPPUNIT_ASSERT_EQUAL(std::string("1796164908"), dovecot("%v"));
    CPPUNIT_ASSERT_EQUAL(std::string("1"), dovecot("%Xu"));
    CPPUNIT_ASSERT_EQUAL(std::string("6b0f4d2c"), dovecot("%Xv"));
    CPPUNIT_ASSERT_EQUAL(std::string(kName1), dovecot("%f"));
    // Maildir has no GUIDs of its own: Dovecot gives the base name.
    CPPUNIT_ASSERT_EQUAL(std::string(kName1), dovecot("%g"));
    CPPUNIT_ASSERT_EQUAL(std::string("1700000003.M3P100.host"),
                         dovecot("%f", 3, "1700000003.M3P100.host"));
    CPPUNIT_ASSERT_EQUAL(std::string("2-1796164908"), dovecot("%u-%v", 2));
    // A G field in the uidlist, when there is one, is the GUID.
    auto f = UidlFormat::parse("%g");
    CPPUNIT_ASSERT_EQUAL(std::string("abc"), f->expand(UidlFields{1, kValidity, kName1, "abc"}));
  }

  void widths_pad_only_with_zero_else_cut() {
    CPPUNIT_ASSERT_EQUAL(std::string("00001"), dovecot("%05u"));
    CPPUNIT_ASSERT_EQUAL(std::string("1"), dovecot("%5u"));
    CPPUNIT_ASSERT_EQUAL(std::string("1"), dovecot("%0u"));
    CPPUNIT_ASSERT_EQUAL(std::string("170"), dovecot("%3f"));
    CPPUNIT_ASSERT_EQUAL(std::string("170"), dovecot("%-3f"));
    CPPUNIT_ASSERT_EQUAL(std::string("00000001"), dovecot("%-08Xu"));
    CPPUNIT_ASSERT_EQUAL(std::string("1"), dovecot("%8Xu"));
    CPPUNIT_ASSERT_EQUAL(std::string("1"), dovecot("%-3u"));
    // Zero padding never cuts.
    CPPUNIT_ASSERT_EQUAL(std::string("6b0f4d2c"), dovecot("%02Xv"));
    CPPUNIT_ASSERT_EQUAL(std::string(kName1), dovecot("%02f"));
    CPPUNIT_ASSERT_EQUAL(std::string(kName1), dovecot("%012f"));
    CPPUNIT_ASSERT_EQUAL(std::string("1796164908"), dovecot("%010v"));
    CPPUNIT_ASSERT_EQUAL(std::string("6b0f4d2c"), dovecot("%08Xv"));
  }

  void offsets() {
    CPPUNIT_ASSERT_EQUAL(std::string("170"), dovecot("%.3f"));
    CPPUNIT_ASSERT_EQUAL(std::string("000000"), dovecot("%3.6f"));
    CPPUNIT_ASSERT_EQUAL(std::string("70"), dovecot("%1.2f"));
    CPPUNIT_ASSERT_EQUAL(std::string("00"), dovecot("%5.2f"));
    CPPUNIT_ASSERT_EQUAL(std::string("17"), dovecot("%0.2f"));
    CPPUNIT_ASSERT_EQUAL(std::string(kName1), dovecot("%.0f"));
    CPPUNIT_ASSERT_EQUAL(std::string("=2"), dovecot("%-3.2f"));
    CPPUNIT_ASSERT_EQUAL(std::string("=26"), dovecot("%-3.0f"));
    CPPUNIT_ASSERT_EQUAL(std::string("17"), dovecot("%-30.2f"));
    CPPUNIT_ASSERT_EQUAL(std::string("1700000001.M1P100.host,S="), dovecot("%.-2f"));
    CPPUNIT_ASSERT_EQUAL(std::string("01"), dovecot("%.02u"));
    CPPUNIT_ASSERT_EQUAL(std::string(""), dovecot("%2.3u"));
  }

  void modifiers_apply_left_to_right_before_width() {
    CPPUNIT_ASSERT_EQUAL(std::string("6B0F4D2C"), dovecot("%XUv"));
    CPPUNIT_ASSERT_EQUAL(std::string("6b0f4d2c"), dovecot("%UXv"));
    CPPUNIT_ASSERT_EQUAL(std::string("6b0f4d2c"), dovecot("%LXv"));
    CPPUNIT_ASSERT_EQUAL(std::string("6b0f4d2c"), dovecot("%08UXv"));
    CPPUNIT_ASSERT_EQUAL(std::string("1700000001.m1p100.host,s=26"), dovecot("%Lf"));
    CPPUNIT_ASSERT_EQUAL(std::string("1700000001.M1P100.HOST,S=26"), dovecot("%Uf"));
    CPPUNIT_ASSERT_EQUAL(std::string("1"), dovecot("%Lu"));
    CPPUNIT_ASSERT_EQUAL(std::string("0"), dovecot("%Xf"));
    CPPUNIT_ASSERT_EQUAL(std::string("00000000"), dovecot("%08Xg"));
    CPPUNIT_ASSERT_EQUAL(std::string("6b0"), dovecot("%3Xv"));
    CPPUNIT_ASSERT_EQUAL(std::string("6b0"), dovecot("%.3Xv"));
    CPPUNIT_ASSERT_EQUAL(std::string("000"), dovecot("%2.3Uf"));
  }

  void literals_and_percent() {
    CPPUNIT_ASSERT_EQUAL(std::string("%1"), dovecot("%%%u"));
    CPPUNIT_ASSERT_EQUAL(std::string("ab1c"), dovecot("ab%uc"));
    CPPUNIT_ASSERT_EQUAL(std::string(std::string(kName1) + kName1 + kName1),
                         dovecot("%30f%30f%30f"));
  }

  void refused_like_dovecot() {
    // "Unknown pop3_uidl_format variable: %x" - lower-case x is no modifier.
    CPPUNIT_ASSERT(refused("%08xu%08xv"));
    CPPUNIT_ASSERT(refused("%x"));
    CPPUNIT_ASSERT(refused("%{uid}"));
    CPPUNIT_ASSERT(refused("%q"));
    CPPUNIT_ASSERT(refused("%z"));
    CPPUNIT_ASSERT(refused("%F"));
    CPPUNIT_ASSERT(refused("%U"));  // "variable: %" (a modifier, then nothing)
    CPPUNIT_ASSERT(refused("%X"));
    CPPUNIT_ASSERT(refused("%X08v"));  // width after the modifier: "%0"
    CPPUNIT_ASSERT(refused("%X.1f"));  // "%."
    CPPUNIT_ASSERT(refused("%%"));     // "doesn't contain any %% variables"
    CPPUNIT_ASSERT(refused(""));
    CPPUNIT_ASSERT(refused("static"));
    // Dovecot accepts %m but then fails every UIDL on Maildir ("Header MD5
    // not found"); refusing at load is kinder.
    CPPUNIT_ASSERT(refused("%m"));
    auto e = UidlFormat::parse("%08xu");
    CPPUNIT_ASSERT(e.error().message.find("%08x") != std::string::npos);
  }

  void refused_by_pop3d_alone() {
    // Dovecot sends "a b1", which a client reads as UIDL "a".
    CPPUNIT_ASSERT(refused("a b%u"));
    CPPUNIT_ASSERT(refused("%u\x7f"));
    // Dovecot drops a trailing '%' ("%u%" gave "1"); here it is a typo.
    CPPUNIT_ASSERT(refused("%u%"));
    // Dovecot gave "0u": X applied to "%%". Nobody means that.
    CPPUNIT_ASSERT(refused("%X%u"));
    // Dovecot's H and N hash modifiers are not implemented.
    CPPUNIT_ASSERT(refused("%Hu"));
    CPPUNIT_ASSERT(refused("%Nu"));
    CPPUNIT_ASSERT(refused("%Df"));
    CPPUNIT_ASSERT(refused("%99999u"));
    auto e = UidlFormat::parse("%Nu");
    CPPUNIT_ASSERT(e.error().message.find("modifier N") != std::string::npos);
  }

  void needs_uids() {
    CPPUNIT_ASSERT(UidlFormat::parse("%08Xu%08Xv")->needs_uids());
    CPPUNIT_ASSERT(UidlFormat::parse("%v-%f")->needs_uids());
    CPPUNIT_ASSERT(!UidlFormat::parse("%f")->needs_uids());
    CPPUNIT_ASSERT(!UidlFormat::parse("%g")->needs_uids());
  }

  void invalid_results_become_file_name_uidls() {
    // Empty (offset past the end), over 70, or with a space from the name:
    // what Dovecot would send breaks clients; the file-name UIDL does not.
    auto f = UidlFormat::parse("%2.3u");
    CPPUNIT_ASSERT_EQUAL(std::string(kName1), f->uidl(UidlFields{1, kValidity, kName1, {}}));
    f = UidlFormat::parse("%f%f%f");
    CPPUNIT_ASSERT_EQUAL(std::string(kName1), f->uidl(UidlFields{1, kValidity, kName1, {}}));
    f = UidlFormat::parse("%f");
    CPPUNIT_ASSERT_EQUAL(std::string("a%20b"), f->uidl(UidlFields{1, kValidity, "a b", {}}));
    const std::string long_name(300, 'n');
    const std::string u = f->uidl(UidlFields{1, kValidity, long_name, {}});
    CPPUNIT_ASSERT(!u.empty() && u.size() <= 70);
    // Valid results are left exactly as Dovecot makes them, '%' included.
    f = UidlFormat::parse("%%%u");
    CPPUNIT_ASSERT_EQUAL(std::string("%7"), f->uidl(UidlFields{7, kValidity, kName1, {}}));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(UidlFormatTest);

}  // namespace pop3d
