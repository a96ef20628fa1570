// SocketTransport: a Transport over a connected, non-blocking TCP socket.
// poll() bounds every wait, so a client that stops talking or stops
// reading cannot hold a worker past its time-out.
#pragma once

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
  UniqueFd fd_;
};

// Waits until `fd` is readable (POLLIN) or writable (POLLOUT) for at most
// `timeout`; retries on EINTR with the time that is left.
IoStatus wait_for(int fd, short events, std::chrono::milliseconds timeout);

}  // namespace pop3d
