// ResponseWriter: gathers replies and writes them in few, large writes.
// The session flushes when no complete command is left in the input, so
// pipelined commands (RFC 2449 PIPELINING) are all answered, in order, with
// one write; long replies flush whenever the buffer passes a threshold, so
// memory stays bounded whatever the reply size.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "net/transport.hpp"

namespace pop3d {

class ResponseWriter {
 public:
  ResponseWriter(Transport& transport, std::chrono::milliseconds write_timeout)
      : transport_(&transport), write_timeout_(write_timeout) {}

  // After STLS the session talks over the TLS transport.
  void set_transport(Transport& transport) { transport_ = &transport; }

  void ok(std::string_view text) { status_line("+OK", text); }
  void err(std::string_view text) { status_line("-ERR", text); }
  // A SASL challenge (RFC 5034 4): "+ " and the base64 text.
  void continuation(std::string_view base64) { status_line("+", base64, true); }
  // One line of a multi-line reply; the caller guarantees it does not start
  // with "." (these are keywords and numbers, never client data).
  void line(std::string_view text);
  void end_multiline() { buf_.append(".\r\n"); }

  // For the message encoder, which appends the wire form directly.
  std::string& buffer() { return buf_; }

  // Writes the buffer when it has grown past the flush threshold.
  bool flush_if_full();
  // Writes everything buffered. False once any write has failed; the
  // session is over then (see failure()).
  bool flush();

  bool failed() const { return failure_ != IoStatus::kOk; }
  IoStatus failure() const { return failure_; }

 private:
  void status_line(std::string_view tag, std::string_view text, bool always_space = false);

  Transport* transport_;
  std::chrono::milliseconds write_timeout_;
  std::string buf_;
  IoStatus failure_ = IoStatus::kOk;
};

}  // namespace pop3d
