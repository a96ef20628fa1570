// StatsServer: serves GET /metrics on a listening socket the master bound,
// in the unprivileged stats process. One poll loop, non-blocking sockets, a
// small fixed number of scrapers at a time, a bounded request head and a
// deadline per connection: whoever reaches the port can cost it only so
// much. Each answer ends its connection (Connection: close).
#pragma once

#include <poll.h>
#include <signal.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "stats/exposition.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

struct StatsServerLimits {
  // Scrapers served at once; more wait in the listen backlog. Prometheus
  // scrapes a target from one connection at a time; a few more leave room
  // for a second Prometheus and an administrator's curl.
  size_t max_connections = 8;
  // From accept to the last byte of the answer. A scraper on the same
  // network sends its request at once; Prometheus' default scrape time-out
  // is 10 s.
  std::chrono::milliseconds timeout{10000};
  // After the answer, unread input is drained (and dropped) this long, so
  // that the close does not reset the connection before the client has
  // read the answer (a 400 to a request it is still sending).
  std::chrono::milliseconds linger{1000};
};

// The page for one scrape, in the format the scraper asked for.
using MetricsRenderer = std::function<std::string(ExpositionFormat)>;

class StatsServer {
 public:
  StatsServer(UniqueFd listener, MetricsRenderer render, StatsServerLimits limits = {});
  StatsServer(const StatsServer&) = delete;
  StatsServer& operator=(const StatsServer&) = delete;

  // Waits up to `wait` (less when a connection's deadline comes first) and
  // handles what is ready. With `mask`, that is the signal mask during the
  // wait (ppoll), so that a blocked signal can end it.
  void poll_once(std::chrono::milliseconds wait, const sigset_t* mask = nullptr);
  // poll_once until `stop` says so; `stop` is asked after every round and
  // at least once a second.
  void run(const std::function<bool()>& stop, const sigset_t* mask = nullptr);

  size_t connections() const { return connections_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Phase { kReading, kWriting, kDraining };
  struct Connection {
    UniqueFd fd;
    Phase phase = Phase::kReading;
    std::string in;   // at most http_limits::kMaxRequestHead + 1 bytes
    std::string out;  // the answer
    size_t sent = 0;
    Clock::time_point deadline;
  };

  void accept_new(Clock::time_point now);
  // Each returns false when the connection is done and must be closed.
  bool on_readable(Connection& c, Clock::time_point now);
  bool on_writable(Connection& c, Clock::time_point now);
  void answer(Connection& c, std::string status, std::string_view content_type,
              const std::string& body);

  UniqueFd listener_;
  MetricsRenderer render_;
  StatsServerLimits limits_;
  std::vector<Connection> connections_;
  Clock::time_point accept_paused_until_{};
};

}  // namespace pop3d
