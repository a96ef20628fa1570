#include <cppunit/extensions/HelperMacros.h>

#include <string>

#include "mailstore/maildir_flags.hpp"
#include "mailstore/maildir_name.hpp"

namespace pop3d {

class MaildirFlagsTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MaildirFlagsTest);
  CPPUNIT_TEST(has_flag_reads_only_the_info_suffix);
  CPPUNIT_TEST(seen_goes_where_ascii_order_puts_it);
  CPPUNIT_TEST(a_name_without_flags_gets_an_info_suffix);
  CPPUNIT_TEST(a_flag_already_there_changes_nothing);
  CPPUNIT_TEST(the_base_name_never_changes);
  CPPUNIT_TEST(cur_name_adds_only_an_empty_suffix);
  CPPUNIT_TEST_SUITE_END();

  static std::string seen(const std::string& name) {
    return maildir_name_with_flag(name, kMaildirSeenFlag);
  }

 public:
  void has_flag_reads_only_the_info_suffix() {
    CPPUNIT_ASSERT(maildir_has_flag("1.a:2,RS", 'S'));
    CPPUNIT_ASSERT(!maildir_has_flag("1.a:2,RT", 'S'));
    // An S in the base name (Dovecot's ",S=<size>") is no flag.
    CPPUNIT_ASSERT(!maildir_has_flag("1.M2P3.host,S=120,W=124:2,", 'S'));
    CPPUNIT_ASSERT(!maildir_has_flag("1.M2P3.host,S=120", 'S'));
  }

  void seen_goes_where_ascii_order_puts_it() {
    CPPUNIT_ASSERT_EQUAL(std::string("1.a:2,FRST"), seen("1.a:2,FRT"));
    CPPUNIT_ASSERT_EQUAL(std::string("1.a:2,DFS"), seen("1.a:2,DF"));
    CPPUNIT_ASSERT_EQUAL(std::string("1.a:2,ST"), seen("1.a:2,T"));
    // Dovecot's keywords are lower-case letters, after every upper-case one.
    CPPUNIT_ASSERT_EQUAL(std::string("1.a:2,FSab"), seen("1.a:2,Fab"));
  }

  void a_name_without_flags_gets_an_info_suffix() {
    CPPUNIT_ASSERT_EQUAL(std::string("1.a:2,S"), seen("1.a"));
    CPPUNIT_ASSERT_EQUAL(std::string("1.a:2,S"), seen("1.a:2,"));
  }

  void a_flag_already_there_changes_nothing() {
    CPPUNIT_ASSERT_EQUAL(std::string("1.a:2,S"), seen("1.a:2,S"));
    CPPUNIT_ASSERT_EQUAL(std::string("1.a:2,RST"), seen("1.a:2,RST"));
  }

  void the_base_name_never_changes() {
    // The base name is the message's identity and its UIDL.
    for (const char* name :
         {"1.M2P3.host,S=120,W=124", "1.M2P3.host,S=120,W=124:2,T", "1.x:2,R", "1.x:2,"}) {
      CPPUNIT_ASSERT_EQUAL(std::string(maildir_base_name(name)),
                           std::string(maildir_base_name(seen(name))));
    }
    CPPUNIT_ASSERT_EQUAL(std::string("1.M2P3.host,S=120,W=124:2,ST"),
                         seen("1.M2P3.host,S=120,W=124:2,T"));
  }

  void cur_name_adds_only_an_empty_suffix() {
    CPPUNIT_ASSERT_EQUAL(std::string("1.a:2,"), maildir_cur_name("1.a"));
    CPPUNIT_ASSERT_EQUAL(std::string("1.a:2,"), maildir_cur_name("1.a:2,"));
    CPPUNIT_ASSERT_EQUAL(std::string("1.a:2,FS"), maildir_cur_name("1.a:2,FS"));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MaildirFlagsTest);

}  // namespace pop3d
