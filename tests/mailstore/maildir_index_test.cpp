#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "maildir_test_util.hpp"
#include "mailstore/maildir_index.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

using testing::TempDir;

namespace {

std::string sample_text() {
  return serialize_index({{"100.a", {1234, true}}, {"200.b with space", {0, false}}});
}

bool is_corrupt(std::string text) {
  return MaildirIndex::parse(std::move(text)).state() == MaildirIndex::State::kCorrupt;
}

}  // namespace

class MaildirIndexTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MaildirIndexTest);
  CPPUNIT_TEST(round_trip_keeps_entries);
  CPPUNIT_TEST(any_flipped_byte_is_rejected);
  CPPUNIT_TEST(malformed_headers_and_lines_are_rejected);
  CPPUNIT_TEST(unindexable_names_are_left_out);
  CPPUNIT_TEST(load_and_write_through_files);
  CPPUNIT_TEST(oversized_file_is_not_read);
  CPPUNIT_TEST(stamps_order_and_folders_round_trip);
  CPPUNIT_TEST_SUITE_END();

 public:
  void round_trip_keeps_entries() {
    MaildirIndex index = MaildirIndex::parse(sample_text());
    CPPUNIT_ASSERT(index.state() == MaildirIndex::State::kLoaded);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, index.size());
    const IndexEntry* a = index.find("100.a");
    CPPUNIT_ASSERT(a != nullptr);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1234}, a->size);
    CPPUNIT_ASSERT(a->plain_sendable);
    const IndexEntry* b = index.find("200.b with space");
    CPPUNIT_ASSERT(b != nullptr);
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, b->size);
    CPPUNIT_ASSERT(!b->plain_sendable);
    CPPUNIT_ASSERT(index.find("300.c") == nullptr);
    // Moving the index keeps its keys valid.
    MaildirIndex moved = std::move(index);
    CPPUNIT_ASSERT(moved.find("100.a") != nullptr);
  }

  void any_flipped_byte_is_rejected() {
    const std::string good = sample_text();
    for (size_t i = 0; i < good.size(); ++i) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ 0x01);
      // The version digit turned into an older one reads as that format:
      // rebuilt, never loaded.
      CPPUNIT_ASSERT_MESSAGE("byte " + std::to_string(i),
                             MaildirIndex::parse(bad).state() != MaildirIndex::State::kLoaded);
      if (i != 12) CPPUNIT_ASSERT_MESSAGE("byte " + std::to_string(i), is_corrupt(bad));
    }
    CPPUNIT_ASSERT(is_corrupt(good.substr(0, good.size() - 1)));  // truncated
    CPPUNIT_ASSERT(is_corrupt(good + "5 0 300.c\n"));             // appended
  }

  void malformed_headers_and_lines_are_rejected() {
    CPPUNIT_ASSERT(is_corrupt(""));
    CPPUNIT_ASSERT(is_corrupt("garbage\n"));
    CPPUNIT_ASSERT(is_corrupt(std::string("\0\0\0\n", 4)));
    // Older formats are rebuilt quietly: missing, not damaged.
    CPPUNIT_ASSERT(MaildirIndex::parse("pop3d-index 1 0 cbf29ce484222325\n").state() ==
                   MaildirIndex::State::kMissing);
    CPPUNIT_ASSERT(MaildirIndex::parse("pop3d-index 2 0 0 0 cbf29ce484222325\n").state() ==
                   MaildirIndex::State::kMissing);
    CPPUNIT_ASSERT(is_corrupt("pop3d-index 4 0 0 0 cbf29ce484222325\n"));  // unknown version
    CPPUNIT_ASSERT(is_corrupt("pop3d-index 3 0 cbf29ce484222325\n"));      // no stamps
    CPPUNIT_ASSERT(is_corrupt("pop3d-index 3 0 1 -1 cbf29ce484222325\n"));
    // Correct checksums over bad bodies: the parser itself must refuse them.
    auto with_body = [](const std::string& body, const std::string& count) {
      const std::string head = "pop3d-index 3 " + count + " 0 0 ";
      const uint64_t h = index_checksum(body, index_checksum(head));
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
      return head + hex + "\n" + body;
    };
    CPPUNIT_ASSERT(!is_corrupt(with_body("5 0 1.a\n", "1")));          // the helper itself is right
    CPPUNIT_ASSERT(is_corrupt(with_body("5 0 1.a\n", "2")));           // count mismatch
    CPPUNIT_ASSERT(is_corrupt(with_body("5 0 1.a\n5 0 1.a\n", "2")));  // duplicate
    CPPUNIT_ASSERT(is_corrupt(with_body("+5 0 1.a\n", "1")));
    CPPUNIT_ASSERT(is_corrupt(with_body("05 0 1.a\n", "1")));
    CPPUNIT_ASSERT(is_corrupt(with_body("99999999999999999999 0 1.a\n", "1")));  // overflow
    CPPUNIT_ASSERT(is_corrupt(with_body("5 4 1.a\n", "1")));
    CPPUNIT_ASSERT(is_corrupt(with_body("5 0 1.a\n5 0 1.a:2,S\n", "2")));  // one base twice
    CPPUNIT_ASSERT(is_corrupt(with_body("5 0 :2,\n", "1")));               // nameless
    CPPUNIT_ASSERT(is_corrupt(with_body("5 0 \n", "1")));
    CPPUNIT_ASSERT(is_corrupt(with_body("5 0 ../../x\n", "1")));  // outside cur/ and new/
    CPPUNIT_ASSERT(is_corrupt(with_body("5 0 1.a\n6 0 1.a\n", "2")));
    CPPUNIT_ASSERT(is_corrupt(with_body("5 0 1.a", "1")));  // no final newline
    CPPUNIT_ASSERT(is_corrupt(with_body("5 0 " + std::string(300, 'x') + "\n", "1")));
    CPPUNIT_ASSERT(is_corrupt(with_body("5 0 1.a\n", "18446744073709551615")));
  }

  void unindexable_names_are_left_out() {
    const std::string text = serialize_index({{"1.a\nb", {5, false}}, {"2.b", {6, false}}});
    MaildirIndex index = MaildirIndex::parse(text);
    CPPUNIT_ASSERT(index.state() == MaildirIndex::State::kLoaded);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, index.size());
    CPPUNIT_ASSERT(index.find("2.b") != nullptr);
  }

  void load_and_write_through_files() {
    TempDir dir;
    UniqueFd fd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    CPPUNIT_ASSERT(MaildirIndex::load(fd.get()).state() == MaildirIndex::State::kMissing);
    CPPUNIT_ASSERT(write_maildir_index(fd.get(), {{"1.a", {42, false}}}).ok());
    MaildirIndex index = MaildirIndex::load(fd.get());
    CPPUNIT_ASSERT(index.state() == MaildirIndex::State::kLoaded);
    CPPUNIT_ASSERT_EQUAL(uint64_t{42}, index.find("1.a")->size);
    CPPUNIT_ASSERT(!testing::exists(dir / kMaildirIndexTempFile));
    struct stat st;
    CPPUNIT_ASSERT_EQUAL(0, ::stat((dir / kMaildirIndexFile).c_str(), &st));
    CPPUNIT_ASSERT_EQUAL(0600, static_cast<int>(st.st_mode & 0777));
  }

  void oversized_file_is_not_read() {
    TempDir dir;
    UniqueFd fd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    CPPUNIT_ASSERT(write_maildir_index(fd.get(), {{"1.a", {42, false}}}).ok());
    // Sparse: costs no disk, but is over the bound.
    CPPUNIT_ASSERT_EQUAL(
        0, ::truncate((dir / kMaildirIndexFile).c_str(), static_cast<off_t>(kMaxIndexBytes) + 1));
    CPPUNIT_ASSERT(MaildirIndex::load(fd.get()).state() == MaildirIndex::State::kCorrupt);
  }

  void stamps_order_and_folders_round_trip() {
    const DirStamps stamps{1700000000123456789, 1700000001000000000};
    const std::string text = serialize_index(
        {{"9.z:2,S", {7, true}, false}, {"1.a", {3, false}, true}, {"5.m:2,", {0, true}, false}},
        stamps);
    MaildirIndex index = MaildirIndex::parse(text);
    CPPUNIT_ASSERT(index.state() == MaildirIndex::State::kLoaded);
    CPPUNIT_ASSERT(index.stamps() == stamps);
    CPPUNIT_ASSERT(index.stamps().known());
    const auto& r = index.records();
    CPPUNIT_ASSERT_EQUAL(size_t{3}, r.size());
    // Kept in the order written, which is the maildrop's order.
    CPPUNIT_ASSERT_EQUAL(std::string("9.z:2,S"), std::string(r[0].file_name));
    CPPUNIT_ASSERT_EQUAL(std::string("1.a"), std::string(r[1].file_name));
    CPPUNIT_ASSERT(!r[0].in_new && r[1].in_new && !r[2].in_new);
    CPPUNIT_ASSERT(r[0].entry.plain_sendable && !r[1].entry.plain_sendable);
    // Looked up by base name, whatever the flags suffix.
    CPPUNIT_ASSERT_EQUAL(size_t{0}, index.position("9.z"));
    CPPUNIT_ASSERT_EQUAL(size_t{2}, index.position("5.m"));
    CPPUNIT_ASSERT_EQUAL(MaildirIndex::npos, index.position("9.z:2,S"));
    CPPUNIT_ASSERT(!MaildirIndex::parse(serialize_index({})).stamps().known());
    // One folder fresh (0), the other vouched for: kept apart.
    const DirStamps one{0, 1700000002000000001};
    CPPUNIT_ASSERT(MaildirIndex::parse(serialize_index({}, one)).stamps() == one);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MaildirIndexTest);

}  // namespace pop3d
