// MessageEncoder: turns a message file into its RETR/TOP wire form (RFC 1939
// 3), chunk by chunk, so a message of any size streams through fixed memory.
//
//  - a bare LF becomes CRLF, a CRLF stays as it is, a lone CR passes;
//  - a line that starts with "." gets one more "." (dot-stuffing);
//  - a last line without a newline gets CRLF, then ".\r\n" ends it all;
//  - every other byte (8-bit, NUL) passes unchanged, lines of any length.
//
// State carries across chunks: a CR ending one chunk and an LF starting the
// next make one CRLF, and a "." right after a chunk boundary that starts a
// line is still stuffed. The octets it sends, not counting stuffing and the
// final ".\r\n", equal MessageInfo::size as the mail store computes it:
// file bytes + LFs without a CR before them + 2 when the file is non-empty
// and does not end with LF.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace pop3d {

class MessageEncoder {
 public:
  // RETR: the whole message.
  MessageEncoder() = default;

  // TOP n k: the header, the blank line after it, and `body_lines` lines of
  // the body (0: the header only).
  static MessageEncoder for_top(uint64_t body_lines) {
    MessageEncoder e;
    e.body_line_limit_ = body_lines;
    return e;
  }

  // Appends the wire form of `in` to `out`. Once the TOP limit is reached
  // the rest of the input is ignored (see done()).
  void encode(std::string_view in, std::string& out);

  // The same into raw memory: writes at most max_output(in.size()) bytes
  // at `out` and returns how many it wrote. No per-line allocation or
  // capacity check: each line is one memchr, one memcpy and its CRLF.
  size_t encode_to(std::string_view in, char* out);
  // The most encode_to() writes for `n` input bytes: every byte an LF (LF
  // -> CRLF), or a "." starting a line ("." -> "..", then LF -> CRLF).
  static constexpr size_t max_output(size_t n) { return 2 * n; }

  // Ends the message: CRLF if the last line had no newline, then ".\r\n".
  void finish(std::string& out);

  // True when TOP has sent all it should; reading more is pointless.
  bool done() const { return done_; }

  // Octets of message sent so far, without stuffing or the final ".\r\n".
  uint64_t octets() const { return octets_; }

  // True while every byte went out as it came in: no dot stuffed, no CR
  // added before an LF, no CRLF added at the end. After finish() on a whole
  // file this is MessageInfo::plain_sendable, learnt while sending, so a
  // file found to differ from its listing needs no second read to measure.
  bool unchanged() const { return unchanged_; }

 private:
  // Ends a line whose LF is next; writes CRLF or LF at `out` and returns
  // the bytes written.
  size_t end_line(char* out);

  static constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

  uint64_t body_line_limit_ = kUnlimited;
  uint64_t body_lines_ = 0;
  uint64_t octets_ = 0;
  uint64_t line_bytes_ = 0;  // bytes of the current line so far, CR included
  bool prev_cr_ = false;     // the last byte seen was a CR
  bool in_header_ = true;
  bool done_ = false;
  bool unchanged_ = true;
};

}  // namespace pop3d
