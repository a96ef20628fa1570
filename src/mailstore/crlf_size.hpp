// The size of a message as POP3 sends it. RETR turns every bare LF into CRLF
// and ends an unterminated last line with CRLF; LIST, STAT and the sender
// must agree on that number octet for octet, so both use this one rule.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pop3d {

// Streaming state: a message may be fed in any number of chunks, and a CR at
// the end of one chunk pairs with an LF at the start of the next.
struct CrlfState {
  bool prev_cr = false;    // the last byte seen was CR
  bool line_start = true;  // the next byte starts a line
  bool seen_any = false;   // at least one byte seen
  bool bare_lf = false;    // some LF had no CR before it
  bool dot_line = false;   // some line starts with '.', so RETR must stuff it
};

// Adds `len` bytes of the message; returns their octets on the wire (the
// bytes plus one CR per bare LF), not counting the tail added at the end.
uint64_t crlf_size(const char* data, size_t len, CrlfState& state);

// The octets the sender adds after the last byte: CRLF (2) when the message
// is non-empty and does not end with LF, else 0.
uint64_t crlf_tail(const CrlfState& state);

// True when the bytes can go to the client unchanged (sendfile): every LF
// already has its CR, no line needs dot-stuffing, and nothing is appended.
bool crlf_plain_sendable(const CrlfState& state);

// Convenience for callers that have the whole message: total wire octets.
class CrlfCounter {
 public:
  void feed(const char* data, size_t len) { body_ += crlf_size(data, len, state_); }
  uint64_t size() const { return body_ + crlf_tail(state_); }
  bool plain_sendable() const { return crlf_plain_sendable(state_); }
  const CrlfState& state() const { return state_; }

 private:
  CrlfState state_;
  uint64_t body_ = 0;
};

}  // namespace pop3d
