// SocketTransport: a Transport over a connected, non-blocking TCP socket.
// poll() bounds every wait, so a client that stops talking or stops
// reading cannot hold a worker past its time-out.
#pragma once

#include <csignal>

#include "net/transport.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

class SocketTransport : public Transport {
 public:
  explicit SocketTransport(UniqueFd fd) : fd_(std::move(fd)) {}

  IoResult read_some(char* buf, size_t len, std::chrono::milliseconds timeout) override;
  IoResult write_all(std::string_view data, std::chrono::milliseconds timeout) override;
  std::optional<IoResult> send_file(int fd, off_t offset, size_t len,
                                    std::chrono::milliseconds timeout) override;

  int fd() const { return fd_.get(); }
  // Hands the socket to another transport (STLS); this one is then dead.
  UniqueFd release_fd() { return std::move(fd_); }

 private:
  IoResult ended_from_outside(size_t done);
  UniqueFd fd_;
};

// A session can be told to end from outside while it waits on its client
// (a newcomer took its connection slot, see ConnectionTable). A signal
// says so: the waits let it in, and ask `session_must_end` whenever it
// interrupts them. Once the answer is yes, the transport sends `farewell`
// (bounded by `farewell_timeout`) and every later wait and transfer of the
// session fails at once, so the session ends as if the connection broke.
// The worker installs one for each session; with none, waits are plain.
struct WaitInterrupt {
  sigset_t mask;  // the signal mask while waiting
  bool (*session_must_end)() = nullptr;
  std::string_view farewell;  // a whole line, CRLF included
  std::chrono::milliseconds farewell_timeout{1000};
};
// Installs `interrupt` (null: none) and forgets a previous session's end.
void set_wait_interrupt(const WaitInterrupt* interrupt);
bool session_ended_from_outside();
// The farewell to send: true, once, after the session was told to end.
bool take_farewell(std::string_view& line, std::chrono::milliseconds& timeout);

enum class WaitMode {
  kInterruptible,  // a session's wait: it may be told to end
  kPlain,          // the farewell itself, which nothing interrupts
};

// Waits until `fd` is readable (POLLIN) or writable (POLLOUT) for at most
// `timeout`; retries on EINTR with the time that is left. kError at once
// when the session was told to end (see WaitInterrupt).
IoStatus wait_for(int fd, short events, std::chrono::milliseconds timeout,
                  WaitMode mode = WaitMode::kInterruptible);

}  // namespace pop3d
