// The stats process: the one process that serves the metrics page
// (stats.listen). The master binds the port with the others, before it
// drops privileges, and forks this process, which confines itself as a
// worker does and reads the counters from the shared mapping. The master
// never reads a byte from the network; a stats process that dies is
// started again, and the counters, in the master's mapping, carry on.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "stats/exposition.hpp"
#include "stats/metrics_table.hpp"
#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

// stats.listen: "host:port", "192.0.2.1:port" or "[2001:db8::1]:port".
struct StatsEndpoint {
  std::string host;
  int port = 0;
};
Result<StatsEndpoint> parse_stats_listen(const std::string& listen);

// Binds stats.listen (a host name: the first address it resolves to). An
// empty setting binds nothing and returns an invalid descriptor.
Result<UniqueFd> open_stats_listener(const std::string& listen);

// Runs in the forked child: confines itself and serves until SIGTERM or
// SIGQUIT. Returns the process's exit code.
int run_stats_process(UniqueFd listener, const MetricsTable& metrics, ScrapeGaugeSource* gauges);

// The master's side: starts the stats process, and starts it again when it
// dies (at once, unless it died within a second of its start, then after a
// pause that doubles, up to a minute, so a crash loop costs little).
class StatsSupervisor {
 public:
  // `in_child` runs in the child first thing after the fork: the master
  // closes there what the stats process must not hold (listeners of the
  // POP3 service, channels to the privileged helper).
  StatsSupervisor(UniqueFd listener, const MetricsTable& metrics, std::function<void()> in_child);
  StatsSupervisor(const StatsSupervisor&) = delete;
  StatsSupervisor& operator=(const StatsSupervisor&) = delete;

  // Where scrape-time gauges come from; null: none. Must outlive this.
  void set_gauge_source(ScrapeGaugeSource* gauges) { gauges_ = gauges; }

  // Forks the stats process; false (logged) when fork failed.
  bool start();
  // Called by the master for every child it reaps: true when it was the
  // stats process (then it is started again, or later, see
  // restart_if_due()).
  bool reaped(pid_t pid, int status);
  // Starts a stats process whose restart was put off, once its time has
  // come; the master calls it whenever it wakes.
  void restart_if_due();
  // When a put-off restart is due (for the master's timer); max() for none.
  std::chrono::steady_clock::time_point restart_at() const { return restart_at_; }
  // Ends the stats process (SIGTERM), for the master's shutdown; no restart.
  void stop();
  pid_t pid() const { return pid_; }
  bool has_listener() const { return listener_.valid(); }
  bool restart_pending() const { return restart_at_ != Clock::time_point::max(); }

 private:
  using Clock = std::chrono::steady_clock;
  UniqueFd listener_;
  const MetricsTable& metrics_;
  std::function<void()> in_child_;
  ScrapeGaugeSource* gauges_ = nullptr;
  pid_t pid_ = 0;
  bool stopped_ = false;
  Clock::time_point started_{};
  Clock::time_point restart_at_ = Clock::time_point::max();
  std::chrono::milliseconds delay_{0};
};

}  // namespace pop3d
