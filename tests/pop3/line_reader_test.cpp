#include <cppunit/extensions/HelperMacros.h>

#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "memory_transport.hpp"
#include "pop3/line_reader.hpp"

// Heap accounting for endless_line_costs_a_fixed_buffer: replacing the
// global operator new is the one way to see what the reader allocates
// without a hook in its code. It counts only while a HeapCount is alive on
// the calling thread and is plain malloc otherwise. Every form of new and
// delete is replaced, so under ASan each allocation still meets a matching
// release (malloc/free) instead of half of a pair going to ASan's own.
namespace {

struct HeapState {
  bool counting = false;
  int64_t live = 0;  // usable bytes allocated minus freed since counting began
  int64_t peak = 0;
  size_t allocations = 0;
};
thread_local HeapState t_heap;

void* counted_alloc(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  if (t_heap.counting) {
    ++t_heap.allocations;
    t_heap.live += static_cast<int64_t>(::malloc_usable_size(p));
    t_heap.peak = std::max(t_heap.peak, t_heap.live);
  }
  return p;
}

void counted_free(void* p) noexcept {
  if (p == nullptr) return;
  if (t_heap.counting) t_heap.live -= static_cast<int64_t>(::malloc_usable_size(p));
  std::free(p);
}

void* counted_alloc_nothrow(std::size_t n) noexcept {
  try {
    return counted_alloc(n);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

}  // namespace

void* operator new(std::size_t n) {
  return counted_alloc(n);
}
void* operator new[](std::size_t n) {
  return counted_alloc(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc_nothrow(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc_nothrow(n);
}
void operator delete(void* p) noexcept {
  counted_free(p);
}
void operator delete[](void* p) noexcept {
  counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  counted_free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  counted_free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  counted_free(p);
}

namespace pop3d {

namespace {

constexpr size_t kCapacity = 1024;
constexpr size_t kMax = 255;
// What malloc may add to a request when it reports the usable size (glibc
// rounds to 16 bytes; ASan reports the request itself).
constexpr int64_t kMallocSlack = 64;

LineReader::Clock::time_point later() {
  return LineReader::Clock::now() + std::chrono::hours(1);
}

// Counts this thread's heap use from construction to stop().
class HeapCount {
 public:
  struct Totals {
    int64_t peak_bytes;
    size_t allocations;
  };
  HeapCount() { t_heap = HeapState{true, 0, 0, 0}; }
  ~HeapCount() { t_heap.counting = false; }
  HeapCount(const HeapCount&) = delete;
  HeapCount& operator=(const HeapCount&) = delete;
  Totals stop() {
    t_heap.counting = false;
    return {t_heap.peak, t_heap.allocations};
  }
};

// A client sending `line_bytes` octets without a newline, then `after`,
// then EOF, generated as it is read so the test holds none of it. Records
// where the reads asked to put the bytes.
class EndlessLineTransport : public Transport {
 public:
  EndlessLineTransport(uint64_t line_bytes, std::string after)
      : line_bytes_(line_bytes), after_(std::move(after)) {}

  IoResult read_some(char* buf, size_t len, std::chrono::milliseconds) override {
    ++reads_;
    const auto begin = reinterpret_cast<std::uintptr_t>(buf);
    lowest_ = std::min(lowest_, begin);
    highest_ = std::max(highest_, begin + len);
    if (served_ < line_bytes_) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(len, line_bytes_ - served_));
      std::memset(buf, 'z', n);
      served_ += n;
      return {IoStatus::kOk, n};
    }
    const size_t offset = static_cast<size_t>(served_ - line_bytes_);
    if (offset >= after_.size()) return {IoStatus::kEof};
    const size_t n = std::min(len, after_.size() - offset);
    std::memcpy(buf, after_.data() + offset, n);
    served_ += n;
    return {IoStatus::kOk, n};
  }
  IoResult write_all(std::string_view, std::chrono::milliseconds) override {
    return {IoStatus::kError};
  }

  uint64_t served() const { return served_; }
  size_t reads() const { return reads_; }
  // From the lowest byte any read could write to the highest.
  uint64_t span() const { return reads_ == 0 ? 0 : highest_ - lowest_; }

 private:
  uint64_t line_bytes_;
  std::string after_;
  uint64_t served_ = 0;
  size_t reads_ = 0;
  std::uintptr_t lowest_ = UINTPTR_MAX;
  std::uintptr_t highest_ = 0;
};

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

  // The header's promise: a client that streams without a newline costs
  // the reader's buffer and no more. Measured two ways over 64 MiB: the heap
  // the reader holds at its peak, and where the reads put the bytes.
  void endless_line_costs_a_fixed_buffer() {
    constexpr uint64_t kEndless = uint64_t{64} << 20;  // 65536 buffers' worth
    const std::string after = "tail\r\nSTAT\r\n";
    EndlessLineTransport t(kEndless, after);
    LineReader::Status first{}, second{};
    bool stat_read = false;
    HeapCount counted;
    {
      LineReader r(kCapacity);
      first = r.next(t, kMax, later()).status;
      const LineReader::Line l = r.next(t, kMax, later());
      second = l.status;
      stat_read = l.line == "STAT";
    }
    const HeapCount::Totals heap = counted.stop();
    CPPUNIT_ASSERT(first == LineReader::Status::kTooLong);
    CPPUNIT_ASSERT(second == LineReader::Status::kLine);
    CPPUNIT_ASSERT(stat_read);
    CPPUNIT_ASSERT_EQUAL(kEndless + after.size(), t.served());  // all of it went through
    // The buffer is all the reader ever held.
    CPPUNIT_ASSERT_MESSAGE("peak heap " + std::to_string(heap.peak_bytes) + " bytes in " +
                               std::to_string(heap.allocations) + " allocations",
                           heap.peak_bytes <= static_cast<int64_t>(kCapacity) + kMallocSlack);
    // Every read went into one region of kCapacity bytes: the buffer did
    // not move or grow while the line went by.
    CPPUNIT_ASSERT(t.reads() > kEndless / kCapacity);
    CPPUNIT_ASSERT_MESSAGE("reads spanned " + std::to_string(t.span()) + " bytes",
                           t.span() <= kCapacity);
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
