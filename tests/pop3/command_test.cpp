#include <cppunit/extensions/HelperMacros.h>

#include <limits>
#include <string>

#include "pop3/command.hpp"
#include "util/base64.hpp"

namespace pop3d {

class CommandParserTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(CommandParserTest);
  CPPUNIT_TEST(keyword_is_case_insensitive);
  CPPUNIT_TEST(arguments_split_on_single_spaces);
  CPPUNIT_TEST(empty_arguments_are_flagged);
  CPPUNIT_TEST(rest_keeps_spaces_for_pass);
  CPPUNIT_TEST(bad_keywords_are_refused);
  CPPUNIT_TEST(numbers_are_digits_only);
  CPPUNIT_TEST(numbers_are_range_checked_without_overflow);
  CPPUNIT_TEST(base64_encodes_rfc4648_vectors);
  CPPUNIT_TEST(base64_decodes_strictly);
  CPPUNIT_TEST_SUITE_END();

 public:
  void keyword_is_case_insensitive() {
    for (const char* line : {"stat", "STAT", "sTaT"}) {
      auto cmd = parse_command(line);
      CPPUNIT_ASSERT(cmd);
      CPPUNIT_ASSERT_EQUAL(std::string("STAT"), cmd->name);
      CPPUNIT_ASSERT(cmd->args.empty());
    }
  }

  void arguments_split_on_single_spaces() {
    auto cmd = parse_command("top 1 10");
    CPPUNIT_ASSERT(cmd);
    CPPUNIT_ASSERT_EQUAL(std::string("TOP"), cmd->name);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, cmd->args.size());
    CPPUNIT_ASSERT(cmd->args[0] == "1");
    CPPUNIT_ASSERT(cmd->args[1] == "10");
    CPPUNIT_ASSERT(!cmd->empty_argument);
  }

  void empty_arguments_are_flagged() {
    CPPUNIT_ASSERT(parse_command("LIST  1")->empty_argument);
    CPPUNIT_ASSERT(parse_command("LIST 1 ")->empty_argument);
    CPPUNIT_ASSERT(parse_command("LIST ")->empty_argument);
  }

  void rest_keeps_spaces_for_pass() {
    auto cmd = parse_command("PASS my secret  pass ");
    CPPUNIT_ASSERT(cmd);
    CPPUNIT_ASSERT(cmd->rest == "my secret  pass ");
  }

  void bad_keywords_are_refused() {
    CPPUNIT_ASSERT(!parse_command(""));
    CPPUNIT_ASSERT(!parse_command(" STAT"));
    CPPUNIT_ASSERT(!parse_command("ST4T"));
    CPPUNIT_ASSERT(!parse_command("\xc3\x9cSER x"));
  }

  void numbers_are_digits_only() {
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, *parse_number("1", 100));
    CPPUNIT_ASSERT_EQUAL(uint64_t{7}, *parse_number("007", 100));
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, *parse_number("0", 100));
    for (const char* bad : {"", "+1", "-1", " 1", "1 ", "1a", "0x10", "1.0", "١"}) {
      CPPUNIT_ASSERT_MESSAGE(bad, !parse_number(bad, 100));
    }
  }

  void numbers_are_range_checked_without_overflow() {
    CPPUNIT_ASSERT(parse_number("100", 100));
    CPPUNIT_ASSERT(!parse_number("101", 100));
    CPPUNIT_ASSERT(!parse_number("7", 5));
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    CPPUNIT_ASSERT_EQUAL(max, *parse_number("18446744073709551615", max));
    CPPUNIT_ASSERT(!parse_number("18446744073709551616", max));
    CPPUNIT_ASSERT(!parse_number("99999999999999999999999999", max));
    CPPUNIT_ASSERT(!parse_number("4294967297", 4294967295u));
  }

  void base64_encodes_rfc4648_vectors() {
    CPPUNIT_ASSERT_EQUAL(std::string(""), base64_encode(""));
    CPPUNIT_ASSERT_EQUAL(std::string("Zg=="), base64_encode("f"));
    CPPUNIT_ASSERT_EQUAL(std::string("Zm8="), base64_encode("fo"));
    CPPUNIT_ASSERT_EQUAL(std::string("Zm9v"), base64_encode("foo"));
    CPPUNIT_ASSERT_EQUAL(std::string("Zm9vYmFy"), base64_encode("foobar"));
    CPPUNIT_ASSERT_EQUAL(std::string("VXNlcm5hbWU6"), base64_encode("Username:"));
  }

  void base64_decodes_strictly() {
    CPPUNIT_ASSERT_EQUAL(std::string("foob"), *base64_decode("Zm9vYg=="));
    CPPUNIT_ASSERT_EQUAL(std::string("fooba"), *base64_decode("Zm9vYmE="));
    CPPUNIT_ASSERT_EQUAL(std::string("\0user\0pw", 8), *base64_decode("AHVzZXIAcHc="));
    CPPUNIT_ASSERT_EQUAL(std::string(), *base64_decode(""));
    for (const char* bad : {"Zg=", "Z===", "Zm9v=", "Zg==Zm9v", "Zm9v!A==", "Zm 9", "=", "Zm=v"}) {
      CPPUNIT_ASSERT_MESSAGE(bad, !base64_decode(bad));
    }
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CommandParserTest);

}  // namespace pop3d
