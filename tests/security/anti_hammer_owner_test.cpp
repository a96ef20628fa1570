// The anti-hammering table file is made by root and used by the service
// user. It lives in a directory that user owns, so the hand-over must go
// through the descriptor create() opened: a chown by name would follow
// whatever the user had put at that name meanwhile (a link to a root file).
#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "security/anti_hammer_table.hpp"

namespace pop3d {

class AntiHammerOwnerTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(AntiHammerOwnerTest);
  CPPUNIT_TEST(created_table_belongs_to_the_given_owner);
  CPPUNIT_TEST(without_owner_the_creator_keeps_it);
  CPPUNIT_TEST_SUITE_END();

  std::string dir_;

 public:
  void setUp() override {
    char tmpl[] = "/tmp/pop3d-ah-owner-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void tearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  void created_table_belongs_to_the_given_owner() {
    // As root, hand it to nobody (65534), as pop3d hands it to its service
    // user; as anyone else only one's own ids are possible.
    const bool root = ::geteuid() == 0;
    const AntiHammerTable::Owner owner{root ? static_cast<uid_t>(65534) : ::geteuid(),
                                       root ? static_cast<gid_t>(65534) : ::getegid()};
    const std::string path = dir_ + "/table";
    auto table = AntiHammerTable::create(path, 64, owner);
    CPPUNIT_ASSERT_MESSAGE(table.ok() ? "" : table.error().message, table.ok());
    struct stat st;
    CPPUNIT_ASSERT_EQUAL(0, ::lstat(path.c_str(), &st));
    CPPUNIT_ASSERT(S_ISREG(st.st_mode));
    CPPUNIT_ASSERT_EQUAL(owner.uid, st.st_uid);
    CPPUNIT_ASSERT_EQUAL(owner.gid, st.st_gid);
    CPPUNIT_ASSERT_EQUAL(static_cast<mode_t>(0600), st.st_mode & 07777);
    // The owner can use it as the running daemon's tools do.
    CPPUNIT_ASSERT(AntiHammerTable::open(path).ok());
  }

  void without_owner_the_creator_keeps_it() {
    const std::string path = dir_ + "/table";
    auto table = AntiHammerTable::create(path, 64);
    CPPUNIT_ASSERT(table.ok());
    struct stat st;
    CPPUNIT_ASSERT_EQUAL(0, ::lstat(path.c_str(), &st));
    CPPUNIT_ASSERT_EQUAL(::geteuid(), st.st_uid);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AntiHammerOwnerTest);

}  // namespace pop3d
