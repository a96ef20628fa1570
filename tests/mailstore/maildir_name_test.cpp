#include <cppunit/extensions/HelperMacros.h>

#include <set>
#include <string>

#include "mailstore/maildir_name.hpp"

namespace pop3d {

class MaildirNameTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MaildirNameTest);
  CPPUNIT_TEST(base_name_drops_info_suffix);
  CPPUNIT_TEST(delivery_time_is_numeric_prefix);
  CPPUNIT_TEST(w_field_parsed_strictly);
  CPPUNIT_TEST(uidl_keeps_printable_names);
  CPPUNIT_TEST(uidl_escapes_unsafe_bytes_and_percent);
  CPPUNIT_TEST(uidl_escaping_keeps_names_apart);
  CPPUNIT_TEST(long_names_are_hashed_within_70);
  CPPUNIT_TEST_SUITE_END();

 public:
  void base_name_drops_info_suffix() {
    CPPUNIT_ASSERT_EQUAL(std::string("1700000000.M1P2.host"),
                         std::string(maildir_base_name("1700000000.M1P2.host:2,S")));
    CPPUNIT_ASSERT_EQUAL(std::string("1.a"), std::string(maildir_base_name("1.a:2,")));
    CPPUNIT_ASSERT_EQUAL(std::string("1.a"), std::string(maildir_base_name("1.a")));
  }

  void delivery_time_is_numeric_prefix() {
    CPPUNIT_ASSERT_EQUAL(uint64_t{1700000000}, maildir_delivery_time("1700000000.M1P2.host"));
    CPPUNIT_ASSERT(maildir_delivery_time("20.x") > maildir_delivery_time("3.x"));
    CPPUNIT_ASSERT(maildir_delivery_time("abc") > maildir_delivery_time("99999999999.x"));
    // 30 digits: no overflow, still sorts after any real timestamp.
    CPPUNIT_ASSERT(maildir_delivery_time("123456789012345678901234567890.x") >
                   maildir_delivery_time("99999999999.x"));
  }

  void w_field_parsed_strictly() {
    auto w = maildir_wire_size_field("1700000000.M1P2.host,S=1000,W=1020");
    CPPUNIT_ASSERT(w.has_value());
    CPPUNIT_ASSERT_EQUAL(uint64_t{1020}, *w);
    CPPUNIT_ASSERT_EQUAL(uint64_t{7}, *maildir_wire_size_field("1.h,W=7,S=5"));
    CPPUNIT_ASSERT(!maildir_wire_size_field("1.h,S=1000").has_value());
    CPPUNIT_ASSERT(!maildir_wire_size_field("1.h,W=").has_value());
    CPPUNIT_ASSERT(!maildir_wire_size_field("1.h,W=12x").has_value());
    CPPUNIT_ASSERT(!maildir_wire_size_field("1.h,W=99999999999999999999999").has_value());
  }

  void uidl_keeps_printable_names() {
    CPPUNIT_ASSERT_EQUAL(std::string("1700000000.M1P2.host,S=10"),
                         maildir_uidl("1700000000.M1P2.host,S=10"));
  }

  void uidl_escapes_unsafe_bytes_and_percent() {
    CPPUNIT_ASSERT_EQUAL(std::string("1.a%20b%25c%0A%FF"), maildir_uidl("1.a b%c\n\xff"));
    const std::string u = maildir_uidl(std::string("1.\x01\x7f", 4));
    CPPUNIT_ASSERT_EQUAL(std::string("1.%01%7F"), u);
  }

  void uidl_escaping_keeps_names_apart() {
    // Without escaping '%', "1.a%20b" and "1.a b" would both give "1.a%20b".
    CPPUNIT_ASSERT(maildir_uidl("1.a%20b") != maildir_uidl("1.a b"));
    std::set<std::string> seen;
    const std::string names[] = {"1.a b", "1.a%20b", "1.a%2520b", "1.a\tb", "1.a%09b"};
    for (const auto& n : names) CPPUNIT_ASSERT(seen.insert(maildir_uidl(n)).second);
  }

  void long_names_are_hashed_within_70() {
    const std::string seventy(70, 'x');
    CPPUNIT_ASSERT_EQUAL(seventy, maildir_uidl(seventy));
    const std::string a(200, 'a');
    std::string b = a;
    b.back() = 'b';
    const std::string ua = maildir_uidl(a), ub = maildir_uidl(b);
    CPPUNIT_ASSERT_EQUAL(size_t{42}, ua.size());
    CPPUNIT_ASSERT(ua != ub);
    CPPUNIT_ASSERT_EQUAL(ua, maildir_uidl(a));  // stable
    // 30 spaces escape to 90 chars: hashed too.
    const std::string spaces(30, ' ');
    CPPUNIT_ASSERT(maildir_uidl(spaces).size() <= kMaxUidlLength);
    for (const std::string& u : {ua, ub, maildir_uidl(spaces)})
      for (unsigned char c : u) CPPUNIT_ASSERT(c >= 0x21 && c <= 0x7E);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MaildirNameTest);

}  // namespace pop3d
