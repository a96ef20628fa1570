// Transport: the byte stream a POP3 session talks over. The plain socket is
// one implementation, TLS another, and an in-memory pipe a third (tests and
// fuzzing), so the protocol code never knows which it has.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

namespace pop3d {

enum class IoStatus {
  kOk,       // `bytes` were transferred
  kEof,      // the peer closed its side
  kTimeout,  // nothing arrived (or could be sent) within the time allowed
  kError,    // the connection is unusable
};

struct IoResult {
  IoStatus status;
  size_t bytes = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Waits at most `timeout` for input and reads what is available, at most
  // `len` bytes. Returns kOk with bytes > 0, or kEof, kTimeout, kError.
  virtual IoResult read_some(char* buf, size_t len, std::chrono::milliseconds timeout) = 0;

  // Writes all of `data`. kTimeout when the peer stops reading for
  // `timeout` (a client that never reads cannot hold a worker forever).
  virtual IoResult write_all(std::string_view data, std::chrono::milliseconds timeout) = 0;

  // True when read_some() would return data without waiting (TLS may have
  // decrypted bytes buffered that the socket no longer shows).
  virtual bool has_buffered_input() const { return false; }

  virtual bool is_tls() const { return false; }

  // Sends `len` bytes of the file `fd` from `offset` straight from the page
  // cache (sendfile), as write_all would send them. Empty when this
  // transport cannot (TLS encrypts in user space): the caller then reads
  // and writes the bytes itself. A file shorter than `len` gives kOk with
  // fewer `bytes`.
  virtual std::optional<IoResult> send_file(int /*fd*/, off_t /*offset*/, size_t /*len*/,
                                            std::chrono::milliseconds /*timeout*/) {
    return std::nullopt;
  }
};

}  // namespace pop3d
