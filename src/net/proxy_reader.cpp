#include "net/proxy_reader.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <string_view>

#include "net/socket_transport.hpp"

namespace pop3d {

namespace {

using Clock = std::chrono::steady_clock;

// Peeking shows what has arrived without taking it, so the header's end can
// be found before a byte of what follows is consumed. Bytes known to be
// part of the header are consumed at once and kept in `buf_`, so the next
// peek shows only new data and a wait for more never wakes on old bytes.
class HeaderReader {
 public:
  HeaderReader(int fd, std::chrono::milliseconds timeout)
      : fd_(fd), deadline_(Clock::now() + timeout) {}

  Result<ProxyHeader> read() {
    for (;;) {
      const ssize_t n =
          ::recv(fd_, buf_.data() + have_, buf_.size() - have_, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0) return Error{"PROXY header: closed by peer"};
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return Error::from_errno("PROXY header: recv");
        if (Status waited = wait(); !waited) return waited.error();
        continue;
      }
      const size_t seen = have_ + static_cast<size_t>(n);
      Result<size_t> length = proxy_header_length({buf_.data(), seen});
      if (!length) return length.error();
      // The framing never shrinks below what it already called header.
      if (*length > buf_.size() || (*length != 0 && *length <= have_))
        return Error{"PROXY header: inconsistent length"};
      if (*length != 0 && *length <= seen) {
        if (Status taken = take(*length - have_); !taken) return taken.error();
        return parse_proxy_header({buf_.data(), have_});
      }
      // Everything peeked belongs to the header: a v1 line without its
      // CRLF yet, or a v2 header shorter than its known length.
      if (Status taken = take(static_cast<size_t>(n)); !taken) return taken.error();
      if (Status waited = wait(); !waited) return waited.error();
    }
  }

 private:
  // Consumes `count` more bytes of the header into buf_.
  Status take(size_t count) {
    const size_t want = have_ + count;
    while (have_ < want) {
      const ssize_t n = ::recv(fd_, buf_.data() + have_, want - have_, MSG_DONTWAIT);
      if (n > 0) {
        have_ += static_cast<size_t>(n);
        continue;
      }
      if (n == 0) return Error{"PROXY header: closed by peer"};
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return Error::from_errno("PROXY header: recv");
      // Peeked bytes do not vanish, so this is not expected; wait anyway.
      if (Status waited = wait(); !waited) return waited;
    }
    return {};
  }

  // Waits for more input until the deadline.
  Status wait() {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_ - Clock::now() + std::chrono::microseconds(999));
    if (left.count() <= 0) return Error{"PROXY header: timed out"};
    switch (wait_for(fd_, POLLIN, left)) {
      case IoStatus::kOk:
        return {};
      case IoStatus::kTimeout:
        return Error{"PROXY header: timed out"};
      default:
        if (session_ended_from_outside()) return Error{"PROXY header: session ended"};
        return Error{"PROXY header: wait failed"};
    }
  }

  const int fd_;
  const Clock::time_point deadline_;
  std::array<char, kProxyV2MaxLength> buf_{};
  size_t have_ = 0;
};

}  // namespace

Result<ProxyHeader> read_proxy_header(int fd, std::chrono::milliseconds timeout) {
  return HeaderReader(fd, timeout).read();
}

}  // namespace pop3d
