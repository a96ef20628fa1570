#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "maildir_test_util.hpp"
#include "mailstore/maildir_name.hpp"
#include "mailstore/maildir_quota.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

using testing::exists;
using testing::make_maildir;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

class MaildirQuotaTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MaildirQuotaTest);
  CPPUNIT_TEST(removal_line_is_negative_bytes_and_count);
  CPPUNIT_TEST(size_comes_from_s_field_else_the_file);
  CPPUNIT_TEST(s_field_parsed_strictly);
  CPPUNIT_TEST(kept_only_where_maildirsize_exists);
  CPPUNIT_TEST(removal_appended_after_what_is_there);
  CPPUNIT_TEST(missing_file_stays_missing);
  CPPUNIT_TEST(nothing_removed_writes_nothing);
  CPPUNIT_TEST(unwritable_file_is_an_error);
  CPPUNIT_TEST_SUITE_END();

  static UniqueFd open_dir(const std::string& path) {
    return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }

 public:
  void removal_line_is_negative_bytes_and_count() {
    CPPUNIT_ASSERT_EQUAL(std::string("-1234 -2\n"), maildir_quota_removal_line(1234, 2));
    CPPUNIT_ASSERT_EQUAL(std::string("-0 -1\n"), maildir_quota_removal_line(0, 1));
  }

  void size_comes_from_s_field_else_the_file() {
    TempDir dir;
    make_maildir(dir.path());
    // Maildir++ believes the name over the file (that is what saves a
    // recalculation the stat() calls), so pop3d must count the same.
    write_file(dir / "cur/1.a,S=999:2,S", "12345");
    write_file(dir / "cur/2.b:2,", "1234567");
    UniqueFd cur = open_dir(dir / "cur");
    CPPUNIT_ASSERT_EQUAL(uint64_t{999}, maildir_quota_size(cur.get(), "1.a,S=999:2,S").value());
    CPPUNIT_ASSERT_EQUAL(uint64_t{7}, maildir_quota_size(cur.get(), "2.b:2,").value());
    CPPUNIT_ASSERT(!maildir_quota_size(cur.get(), "3.gone:2,").has_value());
  }

  void s_field_parsed_strictly() {
    CPPUNIT_ASSERT_EQUAL(uint64_t{120},
                         maildir_file_size_field("1.M2P3.host,S=120,W=124").value_or(0));
    CPPUNIT_ASSERT_EQUAL(uint64_t{120}, maildir_file_size_field("1.host,W=124,S=120").value_or(0));
    CPPUNIT_ASSERT(!maildir_file_size_field("1.host,W=124").has_value());
    CPPUNIT_ASSERT(!maildir_file_size_field("1.host,S=12x").has_value());
    CPPUNIT_ASSERT(!maildir_file_size_field("1.host,S=").has_value());
    CPPUNIT_ASSERT(!maildir_file_size_field("1.host,S=99999999999999999999999").has_value());
  }

  void kept_only_where_maildirsize_exists() {
    TempDir dir;
    make_maildir(dir.path());
    UniqueFd root = open_dir(dir.path());
    CPPUNIT_ASSERT(!maildir_quota_kept(root.get()));
    write_file(dir / "maildirsize", "1000S\n0 0\n");
    CPPUNIT_ASSERT(maildir_quota_kept(root.get()));
  }

  void removal_appended_after_what_is_there() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "maildirsize", "10000S,100C\n  3000     3\n");
    UniqueFd root = open_dir(dir.path());
    CPPUNIT_ASSERT(maildir_quota_record_removal(root.get(), 1500, 2).ok());
    CPPUNIT_ASSERT(maildir_quota_record_removal(root.get(), 700, 1).ok());
    CPPUNIT_ASSERT_EQUAL(std::string("10000S,100C\n  3000     3\n-1500 -2\n-700 -1\n"),
                         read_file(dir / "maildirsize"));
  }

  void missing_file_stays_missing() {
    TempDir dir;
    make_maildir(dir.path());
    UniqueFd root = open_dir(dir.path());
    CPPUNIT_ASSERT(maildir_quota_record_removal(root.get(), 1500, 2).ok());
    CPPUNIT_ASSERT(!exists(dir / "maildirsize"));
  }

  void nothing_removed_writes_nothing() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "maildirsize", "10000S\n");
    UniqueFd root = open_dir(dir.path());
    CPPUNIT_ASSERT(maildir_quota_record_removal(root.get(), 0, 0).ok());
    CPPUNIT_ASSERT_EQUAL(std::string("10000S\n"), read_file(dir / "maildirsize"));
  }

  void unwritable_file_is_an_error() {
    TempDir dir;
    make_maildir(dir.path());
    UniqueFd root = open_dir(dir.path());
    // Something that cannot take the line (a directory; a FIFO, which must
    // not block the commit either) is reported, not written around.
    std::filesystem::create_directory(dir / "maildirsize");
    CPPUNIT_ASSERT(!maildir_quota_kept(root.get()));
    CPPUNIT_ASSERT(!maildir_quota_record_removal(root.get(), 10, 1).ok());
    std::filesystem::remove(dir / "maildirsize");
    CPPUNIT_ASSERT_EQUAL(0, ::mkfifo((dir / "maildirsize").c_str(), 0600));
    CPPUNIT_ASSERT(!maildir_quota_record_removal(root.get(), 10, 1).ok());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MaildirQuotaTest);

}  // namespace pop3d
