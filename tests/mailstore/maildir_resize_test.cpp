// Maildrop::correct_size on Maildir: a size found wrong while sending (a
// lying ",W=", a file rewritten in place) reaches pop3d.index, which the next
// session believes over the name, while this session's listing stays put.
#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>

#include "maildir_test_util.hpp"
#include "mailstore/maildir_index.hpp"
#include "mailstore/maildir_store.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

using testing::make_maildir;
using testing::TempDir;
using testing::write_file;

namespace {

std::unique_ptr<Maildrop> open_drop(const std::string& maildir) {
  UserRecord u;
  u.name = "alice";
  u.maildir = maildir;
  MaildirStore store;
  OpenOutcome out = store.open(u);
  CPPUNIT_ASSERT_MESSAGE(out.reason, out.status == OpenStatus::kOk);
  return std::move(out.maildrop);
}

// 5000 bytes of CRLF lines: its own wire form, 5000 octets.
std::string crlf_5000() {
  std::string s;
  for (int i = 0; i < 500; ++i) s += "12345678\r\n";  // 10 bytes, 10 octets each
  return s;
}

// Sets both folders' mtimes an hour back, so a listing of them is settled
// at once and the index may stand for it (see DirStamps).
void settle_folders(const TempDir& dir) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const timespec past[2] = {{now.tv_sec - 3600, 0}, {now.tv_sec - 3600, 0}};
  for (const char* sub : {"cur", "new"}) ::utimensat(AT_FDCWD, (dir / sub).c_str(), past, 0);
}

DirStamps index_stamps(const TempDir& dir) {
  UniqueFd fd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return MaildirIndex::load(fd.get()).stamps();
}

ino_t index_inode(const TempDir& dir) {
  struct stat st;
  CPPUNIT_ASSERT_EQUAL(0, ::stat((dir / kMaildirIndexFile).c_str(), &st));
  return st.st_ino;
}

// Moves a folder's mtime, as a delivery would, so the next login lists it
// instead of taking the index for the listing.
void touch_folder(const std::string& path) {
  const timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  ::utimensat(AT_FDCWD, path.c_str(), times, 0);
}

}  // namespace

class MaildirResizeTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MaildirResizeTest);
  CPPUNIT_TEST(correction_reaches_the_next_session_through_quit);
  CPPUNIT_TEST(correction_survives_a_session_without_quit);
  CPPUNIT_TEST(index_beats_the_name_when_folders_are_listed);
  CPPUNIT_TEST(correction_follows_a_message_from_new_to_cur);
  CPPUNIT_TEST(unknown_size_is_measured_by_the_store);
  CPPUNIT_TEST(index_standing_for_the_listing_is_corrected_in_place);
  CPPUNIT_TEST_SUITE_END();

 public:
  void correction_reaches_the_next_session_through_quit() {
    TempDir dir;
    make_maildir(dir.path());
    const std::string body = crlf_5000();
    write_file(dir / "cur/1700000000.M1P2.host,S=5000,W=10:2,S", body);
    write_file(dir / "cur/1700000001.M1P2.host:2,", "ok\n");  // 4 octets
    {
      auto drop = open_drop(dir.path());
      CPPUNIT_ASSERT_EQUAL(uint64_t{10}, drop->size(0));  // what the name says
      drop->correct_size(0, FileMeasure{5000, true});
      // This session's listing does not change under the client.
      CPPUNIT_ASSERT_EQUAL(uint64_t{10}, drop->size(0));
      CPPUNIT_ASSERT_EQUAL(uint64_t{10}, drop->info(0).size);
      CPPUNIT_ASSERT(drop->commit({false, false}).ok());
    }
    auto drop = open_drop(dir.path());
    CPPUNIT_ASSERT_EQUAL(size_t{2}, drop->count());
    CPPUNIT_ASSERT_EQUAL(uint64_t{5000}, drop->size(0));
    CPPUNIT_ASSERT(drop->info(0).plain_sendable);
    CPPUNIT_ASSERT_EQUAL(uint64_t{4}, drop->size(1));
  }

  void correction_survives_a_session_without_quit() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1700000000.M1P2.host,W=10:2,S", crlf_5000());
    {
      auto drop = open_drop(dir.path());
      drop->correct_size(0, FileMeasure{5000, true});
      // The connection drops: no commit.
    }
    CPPUNIT_ASSERT(testing::exists(dir / "cur/1700000000.M1P2.host,W=10:2,S"));
    auto drop = open_drop(dir.path());
    CPPUNIT_ASSERT_EQUAL(uint64_t{5000}, drop->size(0));
  }

  void index_beats_the_name_when_folders_are_listed() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1700000000.M1P2.host,W=10:2,S", crlf_5000());
    {
      auto drop = open_drop(dir.path());
      drop->correct_size(0, FileMeasure{5000, true});
      CPPUNIT_ASSERT(drop->commit({false}).ok());
    }
    // Mail arrives: the folders are listed again, and the lying name is
    // seen afresh; the index must still win.
    write_file(dir / "new/1700000005.M9P9.host", "new\n");  // 5 octets
    touch_folder(dir / "new");
    touch_folder(dir / "cur");
    auto drop = open_drop(dir.path());
    CPPUNIT_ASSERT_EQUAL(size_t{2}, drop->count());
    CPPUNIT_ASSERT_EQUAL(uint64_t{5000}, drop->size(0));
    CPPUNIT_ASSERT_EQUAL(uint64_t{5}, drop->size(1));
  }

  void correction_follows_a_message_from_new_to_cur() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "new/1700000000.M1P2.host,W=10", crlf_5000());
    {
      auto drop = open_drop(dir.path());
      CPPUNIT_ASSERT_EQUAL(uint64_t{10}, drop->size(0));
      drop->correct_size(0, FileMeasure{5000, false});
      CPPUNIT_ASSERT(drop->commit({false}).ok());  // moves it to cur/
    }
    CPPUNIT_ASSERT(testing::exists(dir / "cur/1700000000.M1P2.host,W=10:2,"));
    auto drop = open_drop(dir.path());
    CPPUNIT_ASSERT_EQUAL(uint64_t{5000}, drop->size(0));
  }

  void unknown_size_is_measured_by_the_store() {
    TempDir dir;
    make_maildir(dir.path());
    // "a" 1+2, ".b" 2+2 (stuffing not counted), "c" 1+2 added: 10 octets.
    write_file(dir / "cur/1700000000.M1P2.host,W=3:2,S", "a\n.b\nc");
    {
      auto drop = open_drop(dir.path());
      CPPUNIT_ASSERT_EQUAL(uint64_t{3}, drop->size(0));
      drop->correct_size(0, std::nullopt);
      CPPUNIT_ASSERT(drop->commit({false}).ok());
    }
    auto drop = open_drop(dir.path());
    CPPUNIT_ASSERT_EQUAL(uint64_t{10}, drop->size(0));
    CPPUNIT_ASSERT(!drop->info(0).plain_sendable);
  }

  void index_standing_for_the_listing_is_corrected_in_place() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1700000000.M1P2.host,W=10:2,S", crlf_5000());
    settle_folders(dir);
    { auto drop = open_drop(dir.path()); }  // writes the index, with stamps
    const ino_t first = index_inode(dir);
    CPPUNIT_ASSERT(index_stamps(dir).known());
    {
      // Told what it already lists: nothing to correct, nothing written.
      auto drop = open_drop(dir.path());
      drop->correct_size(0, FileMeasure{10, false});
    }
    CPPUNIT_ASSERT_EQUAL(first, index_inode(dir));
    {
      auto drop = open_drop(dir.path());
      drop->correct_size(0, FileMeasure{5000, true});
    }
    CPPUNIT_ASSERT(first != index_inode(dir));  // replaced (written and renamed)
    // Still standing for the listing: the folders did not change.
    CPPUNIT_ASSERT(index_stamps(dir).known());
    auto drop = open_drop(dir.path());
    CPPUNIT_ASSERT_EQUAL(uint64_t{5000}, drop->size(0));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MaildirResizeTest);

}  // namespace pop3d
