#include <cppunit/extensions/HelperMacros.h>

#include <string>

#include "auth/mail_location.hpp"

namespace pop3d {

namespace {

std::string expand_ok(const char* tmpl, const char* user, const char* home) {
  Result<std::string> r = expand_mail_location(tmpl, user, home);
  CPPUNIT_ASSERT_MESSAGE(std::string(tmpl) + ": " + (r ? "" : r.error().message), r.ok());
  return *r;
}

bool fails(const char* tmpl, const char* user, const char* home) {
  return !expand_mail_location(tmpl, user, home).ok();
}

}  // namespace

class MailLocationTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MailLocationTest);
  CPPUNIT_TEST(default_is_home_maildir);
  CPPUNIT_TEST(user_local_part_and_domain);
  CPPUNIT_TEST(user_without_domain);
  CPPUNIT_TEST(percent_escape);
  CPPUNIT_TEST(relative_result_is_under_home);
  CPPUNIT_TEST(mistakes_are_errors);
  CPPUNIT_TEST(names_cannot_leave_the_tree);
  CPPUNIT_TEST_SUITE_END();

 public:
  void default_is_home_maildir() {
    CPPUNIT_ASSERT_EQUAL(std::string("/home/alice/Maildir"),
                         expand_ok("%h/Maildir", "alice", "/home/alice"));
  }

  void user_local_part_and_domain() {
    CPPUNIT_ASSERT_EQUAL(std::string("/var/vmail/example.org/bob/Maildir"),
                         expand_ok("/var/vmail/%d/%n/Maildir", "bob@example.org", ""));
    CPPUNIT_ASSERT_EQUAL(std::string("/srv/mail/bob@example.org"),
                         expand_ok("/srv/mail/%u", "bob@example.org", "/x"));
  }

  void user_without_domain() {
    CPPUNIT_ASSERT_EQUAL(std::string("/var/vmail//carol"),
                         expand_ok("/var/vmail/%d/%n", "carol", ""));
  }

  void percent_escape() {
    CPPUNIT_ASSERT_EQUAL(std::string("/m/100%/dave"), expand_ok("/m/100%%/%u", "dave", ""));
  }

  void relative_result_is_under_home() {
    CPPUNIT_ASSERT_EQUAL(std::string("/home/erin/Maildir"),
                         expand_ok("Maildir", "erin", "/home/erin"));
    CPPUNIT_ASSERT_EQUAL(std::string("/home/erin/mail/erin"),
                         expand_ok("mail/%u", "erin", "/home/erin/"));
    CPPUNIT_ASSERT(fails("Maildir", "erin", ""));
    CPPUNIT_ASSERT(fails("Maildir", "erin", "relative/home"));
  }

  void mistakes_are_errors() {
    CPPUNIT_ASSERT(fails("%h/Maildir", "frank", ""));
    CPPUNIT_ASSERT(fails("/m/%x", "frank", "/h"));
    CPPUNIT_ASSERT(fails("/m/%", "frank", "/h"));
    CPPUNIT_ASSERT(fails("", "frank", "/h"));
    Result<std::string> r = expand_mail_location("/m/%Z", "frank", "/h");
    CPPUNIT_ASSERT(r.error().message.find("%Z") != std::string::npos);
  }

  void names_cannot_leave_the_tree() {
    CPPUNIT_ASSERT(fails("/m/%n", "..", "/h"));
    CPPUNIT_ASSERT(fails("/m/%u", "../etc", "/h"));
    CPPUNIT_ASSERT(fails("/m/%d/%n", "x@..", "/h"));
    CPPUNIT_ASSERT(fails("/m/%d", "x@a/b", "/h"));
    // The home comes from the administrator and may be any path.
    CPPUNIT_ASSERT_EQUAL(std::string("/srv/a/b/Maildir"), expand_ok("%h/Maildir", "x", "/srv/a/b"));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MailLocationTest);

}  // namespace pop3d
