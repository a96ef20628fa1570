#include "net/socket_transport.hpp"

#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

namespace pop3d {

using Clock = std::chrono::steady_clock;

namespace {
// One session at a time per process, so these are per process.
const WaitInterrupt* g_interrupt = nullptr;
bool g_ended = false;
bool g_farewell_sent = false;
}  // namespace

void set_wait_interrupt(const WaitInterrupt* interrupt) {
  g_interrupt = interrupt;
  g_ended = false;
  g_farewell_sent = false;
}

bool session_ended_from_outside() {
  return g_ended;
}

bool take_farewell(std::string_view& line, std::chrono::milliseconds& timeout) {
  if (!g_ended || g_farewell_sent || g_interrupt == nullptr) return false;
  g_farewell_sent = true;
  line = g_interrupt->farewell;
  timeout = g_interrupt->farewell_timeout;
  return !line.empty();
}

IoStatus wait_for(int fd, short events, std::chrono::milliseconds timeout, WaitMode mode) {
  const bool interruptible = mode == WaitMode::kInterruptible && g_interrupt != nullptr;
  if (mode == WaitMode::kInterruptible && g_ended) return IoStatus::kError;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
    if (left.count() <= 0) return IoStatus::kTimeout;
    pollfd p{fd, events, 0};
    const timespec ts{static_cast<time_t>(left.count() / 1000000000),
                      static_cast<long>(left.count() % 1000000000)};
    // The signal that ends a session from outside is blocked everywhere
    // else, so it cannot slip in between a check and this wait: ppoll
    // unblocks it atomically.
    const int rc = ::ppoll(&p, 1, &ts, interruptible ? &g_interrupt->mask : nullptr);
    if (rc > 0) return (p.revents & POLLNVAL) ? IoStatus::kError : IoStatus::kOk;
    if (rc == 0) return IoStatus::kTimeout;
    if (errno != EINTR) return IoStatus::kError;
    if (interruptible && g_interrupt->session_must_end != nullptr &&
        g_interrupt->session_must_end()) {
      g_ended = true;
      return IoStatus::kError;
    }
  }
}

IoResult SocketTransport::ended_from_outside(size_t done) {
  std::string_view line;
  std::chrono::milliseconds timeout{};
  if (take_farewell(line, timeout)) {
    const auto deadline = Clock::now() + timeout;
    size_t sent = 0;
    while (sent < line.size()) {
      const ssize_t n = ::send(fd_.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (wait_for(fd_.get(), POLLOUT, left, WaitMode::kPlain) == IoStatus::kOk) continue;
      }
      break;
    }
  }
  return {IoStatus::kError, done};
}

IoResult SocketTransport::read_some(char* buf, size_t len, std::chrono::milliseconds timeout) {
  // The session reads only when it has no complete command left, which is
  // nearly always right after a reply: the client has not answered yet.
  // Waiting first costs poll + recv, where trying first costs recv (EAGAIN)
  // + poll + recv.
  if (session_ended_from_outside()) return {IoStatus::kError, 0};
  if (const IoStatus waited = wait_for(fd_.get(), POLLIN, timeout); waited != IoStatus::kOk)
    return session_ended_from_outside() ? ended_from_outside(0) : IoResult{waited, 0};
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf, len, 0);
    if (n > 0) return {IoStatus::kOk, static_cast<size_t>(n)};
    if (n == 0) return {IoStatus::kEof, 0};
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return {IoStatus::kError, 0};
    const IoStatus waited = wait_for(fd_.get(), POLLIN, timeout);
    if (waited != IoStatus::kOk) {
      return session_ended_from_outside() ? ended_from_outside(0) : IoResult{waited, 0};
    }
  }
}

IoResult SocketTransport::write_all(std::string_view data, std::chrono::milliseconds timeout) {
  if (session_ended_from_outside()) return {IoStatus::kError, 0};
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
      if (waited != IoStatus::kOk) {
        return session_ended_from_outside() ? ended_from_outside(done) : IoResult{waited, done};
      }
      continue;
    }
    return {errno == EPIPE || errno == ECONNRESET ? IoStatus::kEof : IoStatus::kError, done};
  }
  return {IoStatus::kOk, done};
}

std::optional<IoResult> SocketTransport::send_file(int fd, off_t offset, size_t len,
                                                   std::chrono::milliseconds timeout) {
  if (session_ended_from_outside()) return IoResult{IoStatus::kError, 0};
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
      if (waited != IoStatus::kOk) {
        return session_ended_from_outside() ? ended_from_outside(done) : IoResult{waited, done};
      }
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
