#include "net/socket_transport.hpp"

#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace pop3d {

using Clock = std::chrono::steady_clock;

IoStatus wait_for(int fd, short events, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return IoStatus::kTimeout;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
    if (rc > 0) return (p.revents & POLLNVAL) ? IoStatus::kError : IoStatus::kOk;
    if (rc == 0) return IoStatus::kTimeout;
    if (errno != EINTR) return IoStatus::kError;
  }
}

IoResult SocketTransport::read_some(char* buf, size_t len, std::chrono::milliseconds timeout) {
  // The session reads only when it has no complete command left, which is
  // nearly always right after a reply: the client has not answered yet.
  // Waiting first costs poll + recv, where trying first costs recv (EAGAIN)
  // + poll + recv.
  if (const IoStatus waited = wait_for(fd_.get(), POLLIN, timeout); waited != IoStatus::kOk)
    return {waited, 0};
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf, len, 0);
    if (n > 0) return {IoStatus::kOk, static_cast<size_t>(n)};
    if (n == 0) return {IoStatus::kEof, 0};
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return {IoStatus::kError, 0};
    const IoStatus waited = wait_for(fd_.get(), POLLIN, timeout);
    if (waited != IoStatus::kOk) return {waited, 0};
  }
}

IoResult SocketTransport::write_all(std::string_view data, std::chrono::milliseconds timeout) {
  size_t done = 0;
  while (done < data.size()) {
    // MSG_NOSIGNAL: a client that hung up must end the session, not the worker.
    const ssize_t n = ::send(fd_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const IoStatus waited = wait_for(fd_.get(), POLLOUT, timeout);
      if (waited != IoStatus::kOk) return {waited, done};
      continue;
    }
    return {errno == EPIPE || errno == ECONNRESET ? IoStatus::kEof : IoStatus::kError, done};
  }
  return {IoStatus::kOk, done};
}

std::optional<IoResult> SocketTransport::send_file(int fd, off_t offset, size_t len,
                                                   std::chrono::milliseconds timeout) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::sendfile(fd_.get(), fd, &offset, len - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return IoResult{IoStatus::kOk, done};  // the file ended early
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      const IoStatus waited = wait_for(fd_.get(), POLLOUT, timeout);
      if (waited != IoStatus::kOk) return IoResult{waited, done};
      continue;
    }
    // A file system without sendfile support: nothing is sent yet, so the
    // caller can still send the bytes itself.
    if (done == 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
      return std::nullopt;
    return IoResult{errno == EPIPE || errno == ECONNRESET ? IoStatus::kEof : IoStatus::kError,
                    done};
  }
  return IoResult{IoStatus::kOk, done};
}

}  // namespace pop3d
