// LineReader: splits what the client sends into lines, over a fixed buffer.
// A client that streams without a newline costs that buffer and no more:
// an over-long line is dropped up to its newline and reported once.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "net/transport.hpp"

namespace pop3d {

class LineReader {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Status {
    kLine,     // `line` holds a complete line without its CRLF / LF
    kTooLong,  // a line over the limit was read and thrown away
    kEof,
    kTimeout,  // the deadline passed before a complete line arrived
    kError,
  };
  struct Line {
    Status status;
    std::string_view line;  // valid until the next call
  };

  explicit LineReader(size_t capacity);
  // Wipes what the client sent, so a password does not outlive the session
  // in freed memory.
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line of at most `max_line` octets including its CRLF
  // (`max_line` <= capacity), waiting until `deadline` at most.
  Line next(Transport& transport, size_t max_line, Clock::time_point deadline);

  // True when a complete line is already buffered, so answering it needs no
  // read: the writer keeps gathering replies until this turns false.
  bool has_complete_line() const;

  // Forgets everything buffered. After STLS, bytes that arrived before the
  // handshake must never be executed (RFC 2595 / CVE-2011-0411 style
  // command injection).
  void discard_buffered();

  // Overwrites every byte the client sent that is no longer buffered input
  // (lines already returned, over-long lines thrown away, and the copies
  // compaction leaves behind), keeping what is still to be read. Called
  // after a line that may have carried a password has been handled; the
  // line returned last is invalid afterwards.
  void wipe_consumed();

 private:
  void compact();

  std::unique_ptr<char[]> buf_;
  size_t capacity_;
  size_t start_ = 0;    // first unconsumed byte
  size_t end_ = 0;      // one past the last buffered byte
  size_t scanned_ = 0;  // bytes after start_ already known to hold no LF
  // One past the last byte that may hold client data outside [start_, end_):
  // wiping stops here, so an idle session's pages are left untouched.
  size_t touched_ = 0;
  bool discarding_ = false;  // inside an over-long line, waiting for its LF
};

}  // namespace pop3d
