// A password must not stay in the session's input buffer once the line
// that carried it has been handled. The buffer is looked at through the
// transport: every read is handed the free end of that buffer, so a
// transport that scans the whole buffer on each read sees what a heap dump
// (or a later bug that reads stale bytes) would see, between commands.
#include <cppunit/extensions/HelperMacros.h>

#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "pop3/limits.hpp"
#include "pop3/line_reader.hpp"
#include "session_harness.hpp"

namespace pop3d {

namespace {

// Reads return the scripted chunks one by one (EOF after the last); before
// each, the whole reader buffer is copied into `snapshots`.
class ProbingTransport : public Transport {
 public:
  ProbingTransport(std::vector<std::string> chunks, size_t capacity,
                   std::vector<std::string>& snapshots, std::string& output)
      : chunks_(chunks.begin(), chunks.end()),
        capacity_(capacity),
        snapshots_(snapshots),
        output_(output) {}

  IoResult read_some(char* buf, size_t len, std::chrono::milliseconds) override {
    // The reader reads into [end of buffered data, end of buffer): the
    // buffer's end is fixed, so it also tells where the buffer begins.
    const char* end = buf + len;
    if (buffer_end_ == nullptr) buffer_end_ = end;
    CPPUNIT_ASSERT_MESSAGE("the reader no longer reads up to the end of its buffer",
                           end == buffer_end_ && len <= capacity_);
    snapshots_.emplace_back(end - capacity_, capacity_);
    if (chunks_.empty()) return {IoStatus::kEof};
    std::string chunk = std::move(chunks_.front());
    chunks_.pop_front();
    CPPUNIT_ASSERT(chunk.size() <= len);
    std::memcpy(buf, chunk.data(), chunk.size());
    return {IoStatus::kOk, chunk.size()};
  }

  IoResult write_all(std::string_view data, std::chrono::milliseconds) override {
    output_.append(data);
    return {IoStatus::kOk, data.size()};
  }

 private:
  std::deque<std::string> chunks_;
  size_t capacity_;
  const char* buffer_end_ = nullptr;
  std::vector<std::string>& snapshots_;
  std::string& output_;
};

bool holds(const std::string& snapshot, std::string_view needle) {
  return snapshot.find(needle) != std::string::npos;
}

}  // namespace

class LineWipeTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(LineWipeTest);
  CPPUNIT_TEST(pass_line_is_wiped_before_the_next_read);
  CPPUNIT_TEST(failed_pass_line_is_wiped);
  CPPUNIT_TEST(pipelined_pass_is_wiped_and_later_commands_still_run);
  CPPUNIT_TEST(password_split_over_reads_leaves_no_copy);
  CPPUNIT_TEST(auth_plain_initial_response_is_wiped);
  CPPUNIT_TEST(auth_login_continuation_lines_are_wiped);
  CPPUNIT_TEST(reader_wipe_keeps_unread_lines);
  CPPUNIT_TEST(reader_wipe_removes_a_discarded_long_line);
  CPPUNIT_TEST_SUITE_END();

  SessionHarness h_;
  std::vector<std::string> snapshots_;
  std::string output_;

  void run(std::vector<std::string> chunks) {
    snapshots_.clear();
    output_.clear();
    run_session(h_.ctx, std::make_unique<ProbingTransport>(
                            std::move(chunks), pop3_limits::kInputBuffer, snapshots_, output_));
  }

  // Snapshot `from` on (the reads after the secret was sent and handled)
  // must not hold `secret`; snapshot `control` must hold `control_text`, so
  // the probe is known to look at the bytes the reader keeps.
  void assert_wiped(std::string_view secret, size_t from) {
    CPPUNIT_ASSERT_MESSAGE("too few reads: " + std::to_string(snapshots_.size()),
                           snapshots_.size() > from);
    for (size_t i = from; i < snapshots_.size(); ++i) {
      CPPUNIT_ASSERT_MESSAGE(
          "read " + std::to_string(i) + ": the buffer still holds '" + std::string(secret) + "'",
          !holds(snapshots_[i], secret));
    }
  }

 public:
  void pass_line_is_wiped_before_the_next_read() {
    run({"USER alice\r\n", "PASS wonderland\r\n", "NOOP\r\n", "QUIT\r\n"});
    CPPUNIT_ASSERT(output_.find("+OK Logged in.") != std::string::npos);
    assert_wiped("wonderland", 2);
    // After login nothing secret comes, and lines stay where they were:
    // the probe does see the reader's bytes.
    CPPUNIT_ASSERT_MESSAGE("the probe does not see the reader's buffer",
                           holds(snapshots_[3], "NOOP\r\n"));
  }

  void failed_pass_line_is_wiped() {
    run({"USER alice\r\n", "PASS not-her-password\r\n", "QUIT\r\n"});
    CPPUNIT_ASSERT(output_.find("-ERR [AUTH]") != std::string::npos);
    assert_wiped("not-her-password", 2);
  }

  void pipelined_pass_is_wiped_and_later_commands_still_run() {
    run({"USER alice\r\nPASS wonderland\r\nNOOP\r\nNOOP\r\n", "QUIT\r\n"});
    CPPUNIT_ASSERT(output_.find("+OK Logged in.\r\n+OK\r\n+OK\r\n") != std::string::npos);
    assert_wiped("wonderland", 1);
  }

  // A line in two reads: compaction moves its start to the front and
  // leaves a stale copy behind, which must go too.
  void password_split_over_reads_leaves_no_copy() {
    run({"USER alice\r\nPASS wonder", "land\r\n", "QUIT\r\n"});
    CPPUNIT_ASSERT(output_.find("+OK Logged in.") != std::string::npos);
    assert_wiped("wonder", 2);
  }

  void auth_plain_initial_response_is_wiped() {
    // base64("\0alice\0wonderland")
    run({"AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=\r\n", "QUIT\r\n"});
    CPPUNIT_ASSERT(output_.find("+OK Logged in.") != std::string::npos);
    assert_wiped("AGFsaWNlAHdvbmRlcmxhbmQ=", 1);
  }

  void auth_login_continuation_lines_are_wiped() {
    // base64("alice"), base64("wonderland")
    run({"AUTH LOGIN\r\n", "YWxpY2U=\r\n", "d29uZGVybGFuZA==\r\n", "QUIT\r\n"});
    CPPUNIT_ASSERT(output_.find("+OK Logged in.") != std::string::npos);
    assert_wiped("d29uZGVybGFuZA==", 3);
  }

  void reader_wipe_keeps_unread_lines() {
    LineReader reader(256);
    ProbingTransport t({"PASS hush-hush\r\nNOOP\r\n"}, 256, snapshots_, output_);
    const auto deadline = LineReader::Clock::now() + std::chrono::seconds(10);
    auto first = reader.next(t, 255, deadline);
    CPPUNIT_ASSERT(first.status == LineReader::Status::kLine);
    CPPUNIT_ASSERT_EQUAL(std::string("PASS hush-hush"), std::string(first.line));
    reader.wipe_consumed();
    auto second = reader.next(t, 255, deadline);
    CPPUNIT_ASSERT(second.status == LineReader::Status::kLine);
    CPPUNIT_ASSERT_EQUAL(std::string("NOOP"), std::string(second.line));
    CPPUNIT_ASSERT(reader.next(t, 255, deadline).status == LineReader::Status::kEof);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, snapshots_.size());
    CPPUNIT_ASSERT(!holds(snapshots_[1], "hush-hush"));
    CPPUNIT_ASSERT(holds(snapshots_[1], "NOOP\r\n"));  // consumed after the wipe: kept
  }

  // A line over the limit is thrown away unread, but its bytes were in the
  // buffer (a password pasted into the wrong field is often long).
  void reader_wipe_removes_a_discarded_long_line() {
    LineReader reader(256);
    const std::string long_secret = std::string(60, 'x') + "pasted-secret" + std::string(60, 'y');
    ProbingTransport t({"PASS " + long_secret + "\r\n"}, 256, snapshots_, output_);
    const auto deadline = LineReader::Clock::now() + std::chrono::seconds(10);
    CPPUNIT_ASSERT(reader.next(t, 100, deadline).status == LineReader::Status::kTooLong);
    reader.wipe_consumed();
    CPPUNIT_ASSERT(reader.next(t, 100, deadline).status == LineReader::Status::kEof);
    CPPUNIT_ASSERT(!holds(snapshots_.back(), "pasted-secret"));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(LineWipeTest);

}  // namespace pop3d
