#include "stats/stats_server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "log/logger.hpp"
#include "stats/http_request.hpp"

namespace pop3d {

namespace {

// Read in pieces of this size; the head is bounded anyway.
constexpr size_t kReadChunk = 4096;
// Out of descriptors: accept again after this pause, instead of spinning
// on a listener that stays readable.
constexpr std::chrono::milliseconds kAcceptBackoff{100};
// Input dropped after the answer is bounded too.
constexpr size_t kMaxDrained = 64 * 1024;

}  // namespace

StatsServer::StatsServer(UniqueFd listener, MetricsRenderer render, StatsServerLimits limits)
    : listener_(std::move(listener)), render_(std::move(render)), limits_(limits) {
  connections_.reserve(limits_.max_connections);
}

void StatsServer::run(const std::function<bool()>& stop, const sigset_t* mask) {
  while (!stop()) poll_once(std::chrono::seconds(1), mask);
}

void StatsServer::poll_once(std::chrono::milliseconds wait, const sigset_t* mask) {
  auto now = Clock::now();
  std::vector<pollfd> fds;
  fds.reserve(connections_.size() + 1);
  Clock::time_point wake = now + wait;
  for (const Connection& c : connections_) {
    const short events = c.phase == Phase::kWriting ? POLLOUT : POLLIN;
    fds.push_back(pollfd{c.fd.get(), events, 0});
    wake = std::min(wake, c.deadline);
  }
  // The listener is watched only while there is room for another scraper.
  bool watching_listener = false;
  if (connections_.size() < limits_.max_connections) {
    if (now >= accept_paused_until_) {
      fds.push_back(pollfd{listener_.get(), POLLIN, 0});
      watching_listener = true;
    } else {
      wake = std::min(wake, accept_paused_until_);
    }
  }
  const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::max(wake - now, Clock::duration::zero()));
  timespec ts{static_cast<time_t>(left.count() / 1000000000),
              static_cast<long>(left.count() % 1000000000)};
  const int n = ::ppoll(fds.data(), fds.size(), &ts, mask);
  if (n < 0 && errno != EINTR) log_error("stats: poll failed");
  now = Clock::now();

  // Connections first, by index: fds[i] belongs to connections_[i].
  std::vector<Connection> kept;
  kept.reserve(limits_.max_connections);
  for (size_t i = 0; i < connections_.size(); ++i) {
    Connection& c = connections_[i];
    bool keep = true;
    const short got = n > 0 ? fds[i].revents : 0;
    if (got & (POLLERR | POLLNVAL)) {
      keep = false;
    } else if (got & (POLLIN | POLLHUP) && c.phase != Phase::kWriting) {
      keep = on_readable(c, now);
    } else if (got & (POLLOUT | POLLHUP) && c.phase == Phase::kWriting) {
      keep = on_writable(c, now);
    }
    // A connection past its deadline is closed, with no answer when it
    // never finished its request: it is too slow, or not a scraper.
    if (keep && now >= c.deadline) keep = false;
    if (keep) kept.push_back(std::move(c));
  }
  connections_ = std::move(kept);
  if (n > 0 && watching_listener && (fds.back().revents & POLLIN)) accept_new(now);
}

void StatsServer::accept_new(Clock::time_point now) {
  while (connections_.size() < limits_.max_connections) {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        accept_paused_until_ = now + kAcceptBackoff;
      }
      return;  // EAGAIN: nobody else waits; or the client left already
    }
    Connection c;
    c.fd = std::move(fd);
    c.deadline = now + limits_.timeout;
    connections_.push_back(std::move(c));
  }
}

bool StatsServer::on_readable(Connection& c, Clock::time_point now) {
  char buf[kReadChunk];
  if (c.phase == Phase::kDraining) {
    const ssize_t got = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (got > 0) {
      c.sent += static_cast<size_t>(got);  // counts what was dropped
      return c.sent < kMaxDrained;
    }
    return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  }
  // One byte past the limit is enough to tell that the head is too long.
  const size_t room = http_limits::kMaxRequestHead + 1 - c.in.size();
  const ssize_t got = ::recv(c.fd.get(), buf, std::min(room, sizeof buf), 0);
  if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  if (got == 0) return false;  // the client left before its request was whole
  c.in.append(buf, static_cast<size_t>(got));
  const HttpParseResult parsed = parse_http_request_head(c.in);
  switch (parsed.status) {
    case HttpParseStatus::kIncomplete:
      return true;
    case HttpParseStatus::kMalformed:
    case HttpParseStatus::kTooLarge:
      // At debug level: whoever reaches the port could fill the log.
      log_debug("stats: bad request: " + parsed.error);
      answer(c, "400 Bad Request", "text/plain; charset=utf-8", "Bad request.\n");
      break;
    case HttpParseStatus::kComplete:
      if (parsed.head.method == "GET" && parsed.head.path == "/metrics") {
        const ExpositionFormat format = choose_exposition_format(parsed.head.accept);
        answer(c, "200 OK", exposition_content_type(format), render_(format));
      } else {
        answer(c, "404 Not Found", "text/plain; charset=utf-8", "Only GET /metrics is served.\n");
      }
      break;
  }
  return on_writable(c, now);
}

void StatsServer::answer(Connection& c, std::string status, std::string_view content_type,
                         const std::string& body) {
  c.in.clear();
  c.in.shrink_to_fit();
  c.out = "HTTP/1.1 " + status + "\r\nContent-Type: " + std::string(content_type) +
          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
          body;
  c.sent = 0;
  c.phase = Phase::kWriting;
}

bool StatsServer::on_writable(Connection& c, Clock::time_point now) {
  while (c.sent < c.out.size()) {
    const ssize_t put =
        ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (put < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c.sent += static_cast<size_t>(put);
  }
  // All sent: say so with a FIN, then read until the client closes (or
  // the linger ends) so the close does not turn into a reset.
  ::shutdown(c.fd.get(), SHUT_WR);
  c.out.clear();
  c.out.shrink_to_fit();
  c.sent = 0;
  c.phase = Phase::kDraining;
  c.deadline = std::min(c.deadline, now + limits_.linger);
  return true;
}

}  // namespace pop3d
