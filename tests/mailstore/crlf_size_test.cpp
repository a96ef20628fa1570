#include <cppunit/extensions/HelperMacros.h>

#include <string>

#include "mailstore/crlf_size.hpp"

namespace pop3d {

namespace {

uint64_t wire_size(const std::string& s) {
  CrlfCounter c;
  c.feed(s.data(), s.size());
  return c.size();
}

// Feeds one byte at a time, so every chunk boundary is exercised.
uint64_t wire_size_bytewise(const std::string& s, bool* plain = nullptr) {
  CrlfCounter c;
  for (char ch : s) c.feed(&ch, 1);
  if (plain) *plain = c.plain_sendable();
  return c.size();
}

}  // namespace

class CrlfSizeTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(CrlfSizeTest);
  CPPUNIT_TEST(empty_message_is_zero);
  CPPUNIT_TEST(lf_lines_gain_a_cr_each);
  CPPUNIT_TEST(crlf_lines_are_unchanged);
  CPPUNIT_TEST(mixed_endings_count_only_bare_lf);
  CPPUNIT_TEST(missing_final_newline_adds_crlf);
  CPPUNIT_TEST(chunk_boundaries_do_not_matter);
  CPPUNIT_TEST(plain_sendable_only_for_clean_crlf);
  CPPUNIT_TEST_SUITE_END();

 public:
  void empty_message_is_zero() {
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, wire_size(""));
    CrlfCounter c;
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, c.size());
  }

  void lf_lines_gain_a_cr_each() {
    CPPUNIT_ASSERT_EQUAL(uint64_t{2}, wire_size("\n"));
    CPPUNIT_ASSERT_EQUAL(uint64_t{14}, wire_size("Hi: x\n\nabc\n"));  // 11 + 3 CR
    CPPUNIT_ASSERT_EQUAL(uint64_t{4}, wire_size("\n\n"));
  }

  void crlf_lines_are_unchanged() {
    CPPUNIT_ASSERT_EQUAL(uint64_t{14}, wire_size("Hi: x\r\n\r\nabc\r\n"));
  }

  void mixed_endings_count_only_bare_lf() {
    // "a\r\n" 3, "b\n" 2+1, "\r\n" 2, "c\n" 2+1
    CPPUNIT_ASSERT_EQUAL(uint64_t{11}, wire_size("a\r\nb\n\r\nc\n"));
    // A lone CR is sent as it is and is not a line end.
    CPPUNIT_ASSERT_EQUAL(uint64_t{5}, wire_size("a\rb\r\n"));
  }

  void missing_final_newline_adds_crlf() {
    CPPUNIT_ASSERT_EQUAL(uint64_t{5}, wire_size("abc"));
    CPPUNIT_ASSERT_EQUAL(uint64_t{8}, wire_size("a\nbcd"));  // 5 + 1 CR + 2 tail
    // Ending in CR without LF: the sender still appends CRLF.
    CPPUNIT_ASSERT_EQUAL(uint64_t{6}, wire_size("abc\r"));
  }

  void chunk_boundaries_do_not_matter() {
    const std::string samples[] = {"a\r\nb\n\r\nc\n", "abc\r", "\r\n\r\n", "x\n.y\r\n", "\n", ""};
    for (const auto& s : samples) CPPUNIT_ASSERT_EQUAL(wire_size(s), wire_size_bytewise(s));
    // A CR at the end of one chunk pairs with the LF starting the next.
    CrlfCounter c;
    c.feed("ab\r", 3);
    c.feed("\ncd\r\n", 5);
    CPPUNIT_ASSERT_EQUAL(uint64_t{8}, c.size());
    CPPUNIT_ASSERT(c.plain_sendable());
  }

  void plain_sendable_only_for_clean_crlf() {
    bool plain = false;
    wire_size_bytewise("a\r\nb\r\n", &plain);
    CPPUNIT_ASSERT(plain);
    wire_size_bytewise("a\r\nb\n", &plain);
    CPPUNIT_ASSERT(!plain);  // bare LF
    wire_size_bytewise("a\r\n.b\r\n", &plain);
    CPPUNIT_ASSERT(!plain);  // needs dot-stuffing
    wire_size_bytewise(".a\r\n", &plain);
    CPPUNIT_ASSERT(!plain);  // dot on the first line
    wire_size_bytewise("a\r\nb", &plain);
    CPPUNIT_ASSERT(!plain);  // sender appends CRLF
    wire_size_bytewise("a.b\r\n", &plain);
    CPPUNIT_ASSERT(plain);  // a dot inside a line is fine
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CrlfSizeTest);

}  // namespace pop3d
