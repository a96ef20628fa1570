#include <cppunit/extensions/HelperMacros.h>

#include <string>

#include "memory_transport.hpp"
#include "pop3/line_reader.hpp"

namespace pop3d {

namespace {

constexpr size_t kCapacity = 1024;
constexpr size_t kMax = 255;

LineReader::Clock::time_point later() {
  return LineReader::Clock::now() + std::chrono::hours(1);
}

}  // namespace

class LineReaderTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(LineReaderTest);
  CPPUNIT_TEST(crlf_and_bare_lf_lines);
  CPPUNIT_TEST(line_split_over_many_chunks);
  CPPUNIT_TEST(several_lines_in_one_chunk_need_one_read);
  CPPUNIT_TEST(limit_counts_crlf);
  CPPUNIT_TEST(over_long_line_is_dropped_and_reading_goes_on);
  CPPUNIT_TEST(endless_line_costs_a_fixed_buffer);
  CPPUNIT_TEST(eof_timeout_and_error_are_reported);
  CPPUNIT_TEST(passed_deadline_times_out_without_reading);
  CPPUNIT_TEST(discard_forgets_buffered_lines);
  CPPUNIT_TEST_SUITE_END();

 public:
  void crlf_and_bare_lf_lines() {
    auto pipe = std::make_shared<MemoryPipe>();
    pipe->send("USER a\r\nPASS b\nNOOP\r\r\n");
    MemoryTransport t(pipe);
    LineReader r(kCapacity);
    CPPUNIT_ASSERT(r.next(t, kMax, later()).line == "USER a");
    CPPUNIT_ASSERT(r.next(t, kMax, later()).line == "PASS b");
    // Only one CR belongs to the terminator.
    CPPUNIT_ASSERT(r.next(t, kMax, later()).line == "NOOP\r");
    CPPUNIT_ASSERT(r.next(t, kMax, later()).status == LineReader::Status::kEof);
  }

  void line_split_over_many_chunks() {
    auto pipe = std::make_shared<MemoryPipe>();
    for (const char* c : {"R", "ET", "R 1\r", "\nQU", "IT\r\n"}) pipe->send(c);
    MemoryTransport t(pipe);
    LineReader r(kCapacity);
    CPPUNIT_ASSERT(r.next(t, kMax, later()).line == "RETR 1");
    CPPUNIT_ASSERT(r.next(t, kMax, later()).line == "QUIT");
  }

  void several_lines_in_one_chunk_need_one_read() {
    auto pipe = std::make_shared<MemoryPipe>();
    pipe->send("STAT\r\nLIST\r\nQUIT\r\n");
    MemoryTransport t(pipe);
    LineReader r(kCapacity);
    CPPUNIT_ASSERT(r.next(t, kMax, later()).line == "STAT");
    CPPUNIT_ASSERT(r.has_complete_line());
    CPPUNIT_ASSERT(r.next(t, kMax, later()).line == "LIST");
    CPPUNIT_ASSERT(r.next(t, kMax, later()).line == "QUIT");
    CPPUNIT_ASSERT(!r.has_complete_line());
    CPPUNIT_ASSERT_EQUAL(size_t{1}, pipe->reads);
  }

  void limit_counts_crlf() {
    auto pipe = std::make_shared<MemoryPipe>();
    pipe->send(std::string(253, 'a') + "\r\n");
    pipe->send(std::string(254, 'b') + "\r\n");
    pipe->send(std::string(254, 'c') + "\n");
    MemoryTransport t(pipe);
    LineReader r(kCapacity);
    LineReader::Line l = r.next(t, kMax, later());
    CPPUNIT_ASSERT(l.status == LineReader::Status::kLine);
    CPPUNIT_ASSERT_EQUAL(size_t{253}, l.line.size());
    CPPUNIT_ASSERT(r.next(t, kMax, later()).status == LineReader::Status::kTooLong);
    CPPUNIT_ASSERT(r.next(t, kMax, later()).status == LineReader::Status::kTooLong);
  }

  void over_long_line_is_dropped_and_reading_goes_on() {
    auto pipe = std::make_shared<MemoryPipe>();
    pipe->send(std::string(600, 'x') + "\r\nNOOP\r\n");
    MemoryTransport t(pipe);
    LineReader r(kCapacity);
    CPPUNIT_ASSERT(r.next(t, kMax, later()).status == LineReader::Status::kTooLong);
    CPPUNIT_ASSERT(r.next(t, kMax, later()).line == "NOOP");
  }

  void endless_line_costs_a_fixed_buffer() {
    auto pipe = std::make_shared<MemoryPipe>();
    const std::string mb(1 << 20, 'z');
    for (int i = 0; i < 8; ++i) pipe->send(mb);
    pipe->send("tail\r\nSTAT\r\n");
    MemoryTransport t(pipe);
    LineReader r(kCapacity);  // 1 KiB against 8 MiB without a newline
    CPPUNIT_ASSERT(r.next(t, kMax, later()).status == LineReader::Status::kTooLong);
    CPPUNIT_ASSERT(r.next(t, kMax, later()).line == "STAT");
  }

  void eof_timeout_and_error_are_reported() {
    auto pipe = std::make_shared<MemoryPipe>();
    pipe->send("half");
    pipe->timeout();
    pipe->error();
    MemoryTransport t(pipe);
    LineReader r(kCapacity);
    CPPUNIT_ASSERT(r.next(t, kMax, later()).status == LineReader::Status::kTimeout);
    CPPUNIT_ASSERT(r.next(t, kMax, later()).status == LineReader::Status::kError);
    pipe->input.clear();
    CPPUNIT_ASSERT(r.next(t, kMax, later()).status == LineReader::Status::kEof);
  }

  void passed_deadline_times_out_without_reading() {
    auto pipe = std::make_shared<MemoryPipe>();
    pipe->send("NOOP\r\n");
    MemoryTransport t(pipe);
    LineReader r(kCapacity);
    const auto past = LineReader::Clock::now() - std::chrono::seconds(1);
    CPPUNIT_ASSERT(r.next(t, kMax, past).status == LineReader::Status::kTimeout);
    CPPUNIT_ASSERT_EQUAL(size_t{0}, pipe->reads);
  }

  void discard_forgets_buffered_lines() {
    auto pipe = std::make_shared<MemoryPipe>();
    pipe->send("STLS\r\nUSER evil\r\n");
    pipe->send("CAPA\r\n");
    MemoryTransport t(pipe);
    LineReader r(kCapacity);
    CPPUNIT_ASSERT(r.next(t, kMax, later()).line == "STLS");
    r.discard_buffered();
    CPPUNIT_ASSERT(r.next(t, kMax, later()).line == "CAPA");
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(LineReaderTest);

}  // namespace pop3d
