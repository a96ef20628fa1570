#include "stats/stats_process.hpp"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "config.h"
#include "daemon/privileges.hpp"
#include "daemon/signals.hpp"
#include "log/logger.hpp"
#include "net/listener.hpp"
#include "stats/stats_server.hpp"
#include "util/child_exit.hpp"
#include "util/child_process.hpp"
#include "util/proc_title.hpp"

namespace pop3d {

namespace {

constexpr std::chrono::milliseconds kQuickDeath{1000};
constexpr std::chrono::milliseconds kFirstRestartDelay{1000};
constexpr std::chrono::milliseconds kMaxRestartDelay{60000};

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

Result<int> parse_port(const std::string& text) {
  if (text.empty() || text.size() > 5 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return Error{"\"" + text + "\" is not a port number"};
  }
  const int port = std::stoi(text);
  if (port < 1 || port > 65535) return Error{"port " + text + " is out of range (1-65535)"};
  return port;
}

}  // namespace

Result<StatsEndpoint> parse_stats_listen(const std::string& listen) {
  const auto bad = [&](const std::string& why) {
    return Error{"stats.listen \"" + listen + "\": " + why};
  };
  std::string host;
  std::string port;
  if (!listen.empty() && listen.front() == '[') {
    const size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return bad("an IPv6 address goes in brackets, followed by :port");
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
    if (host.find(':') == std::string::npos) return bad("only an IPv6 address goes in brackets");
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return bad("no :port");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("write an IPv6 address as [address]:port");
  }
  if (host.empty()) return bad("no host");
  Result<int> number = parse_port(port);
  if (!number) return bad(number.error().message);
  return StatsEndpoint{host, *number};
}

Result<UniqueFd> open_stats_listener(const std::string& listen) {
  if (listen.empty()) return UniqueFd();
  Result<StatsEndpoint> endpoint = parse_stats_listen(listen);
  if (!endpoint) return endpoint.error();
  auto addresses = resolve_bind_entry(endpoint->host, endpoint->port);
  if (!addresses) return Error{"stats.listen: " + addresses.error().message};
  if (addresses->empty()) return Error{"stats.listen: " + endpoint->host + " has no address"};
  Result<UniqueFd> fd = bind_listener(addresses->front());
  if (!fd) return Error{"stats.listen: " + fd.error().message};
  return std::move(*fd);
}

int run_stats_process(UniqueFd listener, const MetricsTable& metrics, ScrapeGaugeSource* gauges) {
  Logger::instance().set_role("stats");
  set_proc_title("stats");
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (Status s = confine_process(); !s) {
    log_error("stats: cannot confine itself: " + s.error().message);
    return 1;
  }
  const ExpositionInfo info{PACKAGE_VERSION, metrics.created_at()};
  StatsServer server(std::move(listener), [&](ExpositionFormat format) {
    return render_metrics(metrics.snapshot(), gauges ? gauges->gauges() : ScrapeGauges{}, info,
                          format);
  });
  SignalFlags& flags = signal_flags();
  const sigset_t mask = wait_mask();
  server.run(
      [&] {
        // A rotated log file is let go of between scrapes.
        Logger::instance().reopen_if_requested();
        return flags.terminate || flags.graceful;
      },
      &mask);
  return 0;
}

StatsSupervisor::StatsSupervisor(UniqueFd listener, const MetricsTable& metrics,
                                 std::function<void()> in_child)
    : listener_(std::move(listener)), metrics_(metrics), in_child_(std::move(in_child)) {}

bool StatsSupervisor::start() {
  restart_at_ = Clock::time_point::max();
  if (stopped_ || !listener_) return false;
  Result<pid_t> forked = fork_with_pdeathsig();
  if (!forked) {
    log_error("cannot fork the stats process: " + forked.error().message);
    restart_at_ = Clock::now() + kFirstRestartDelay;
    return false;
  }
  if (*forked == 0) {
    if (in_child_) in_child_();
    signal_flags() = SignalFlags{};
    // The child's own copy of the descriptor: the master keeps its own
    // for the next stats process.
    UniqueFd mine(::dup(listener_.get()));
    listener_.reset();
    exit_forked_child(run_stats_process(std::move(mine), metrics_, gauges_));
  }
  pid_ = *forked;
  started_ = Clock::now();
  return true;
}

bool StatsSupervisor::reaped(pid_t pid, int status) {
  if (pid_ == 0 || pid != pid_) return false;
  pid_ = 0;
  if (stopped_) return true;
  log_warning("the stats process " + std::to_string(pid) + " " + describe_exit(status) +
              "; starting it again");
  if (Clock::now() - started_ < kQuickDeath) {
    delay_ = std::min(std::max(delay_ * 2, kFirstRestartDelay), kMaxRestartDelay);
    restart_at_ = Clock::now() + delay_;
    return true;
  }
  delay_ = std::chrono::milliseconds{0};
  (void)start();
  return true;
}

void StatsSupervisor::restart_if_due() {
  if (!stopped_ && pid_ == 0 && Clock::now() >= restart_at_) (void)start();
}

void StatsSupervisor::stop() {
  stopped_ = true;
  restart_at_ = Clock::time_point::max();
  if (pid_ != 0) ::kill(pid_, SIGTERM);
}

}  // namespace pop3d
