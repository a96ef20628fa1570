#include "daemon/master.hpp"

#include <malloc.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>

#include "daemon/signals.hpp"
#include "daemon/worker.hpp"
#include "log/logger.hpp"
#include "privsep/client.hpp"
#include "util/child_exit.hpp"
#include "util/child_process.hpp"
#include "util/proc_title.hpp"

namespace pop3d {

namespace {

// A worker that dies sooner than this after its start counts as dying "at
// once": the next one waits, with the wait doubling up to the maximum.
constexpr std::chrono::milliseconds kQuickDeath{1000};
constexpr std::chrono::milliseconds kFirstRespawnDelay{250};
constexpr std::chrono::milliseconds kMaxRespawnDelay{30000};
// How often the master wakes while a timer (respawn, shutdown) is pending.
constexpr long kTickMicros = 100000;
// How often the master refreshes its STATUS= line for systemd.
constexpr time_t kStatusPeriodSeconds = 5;

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "was killed by signal " + std::to_string(WTERMSIG(status)) +
           (WCOREDUMP(status) ? " (core dumped)" : "");
  }
  return "ended";
}

}  // namespace

std::vector<std::string> keep_restart_only_settings(const Settings& running, Settings& next) {
  std::vector<std::string> changed;
  auto keep = [&](const char* name, auto& next_value, const auto& running_value) {
    if (!(next_value == running_value)) {
      changed.emplace_back(name);
      next_value = running_value;
    }
  };
  keep("pop3.enabled", next.pop3.enabled, running.pop3.enabled);
  keep("pop3.port", next.pop3.port, running.pop3.port);
  keep("pop3.ssl_port", next.pop3.ssl_port, running.pop3.ssl_port);
  keep("pop3.implicit_ssl", next.pop3.implicit_ssl, running.pop3.implicit_ssl);
  keep("pop3.bind", next.pop3.bind, running.pop3.bind);
  keep("pop3.listen", next.pop3.listen, running.pop3.listen);
  keep("general.bind_addresses", next.general.bind_addresses, running.general.bind_addresses);
  keep("general.user", next.general.user, running.general.user);
  keep("general.group", next.general.group, running.general.group);
  keep("general.pid_file", next.general.pid_file, running.general.pid_file);
  keep("general.anti_hammering.table_size", next.general.anti_hammering.table_size,
       running.general.anti_hammering.table_size);
  keep("log.target", next.log.target, running.log.target);
  keep("stats.listen", next.stats.listen, running.stats.listen);
  // The privileged helper is started (or not) before the privilege drop and
  // keeps the settings it was started with.
  keep("auth.backend", next.auth.backend, running.auth.backend);
  if (backend_needs_privsep(running.auth.backend)) {
    keep("auth.mail_location", next.auth.mail_location, running.auth.mail_location);
    keep("auth.first_valid_uid", next.auth.first_valid_uid, running.auth.first_valid_uid);
    keep("auth.pam_service", next.auth.pam_service, running.auth.pam_service);
  }
  return changed;
}

Master::Master(std::string config_file, std::vector<Override> overrides,
               std::unique_ptr<Service> service, std::vector<Listener> listeners,
               SharedTables& shared)
    : config_file_(std::move(config_file)),
      overrides_(std::move(overrides)),
      service_(std::move(service)),
      listeners_(std::move(listeners)),
      shared_(shared) {
  service_->shared = &shared_;
}

int Master::run() {
  Logger::instance().set_role("master");
  set_proc_title("master");
  const sigset_t mask = wait_mask();
  SignalFlags& flags = signal_flags();
  log_notice("started: " + std::to_string(service_->settings->pop3.max_connections) +
             " sessions at most, " +
             std::to_string(service_->settings->pop3.max_connections + kSpareWorkers) +
             " workers, " + std::to_string(listeners_.size()) + " listener(s)");
  if (service_->passwd_users != nullptr) service_->passwd_users->publish();
  watch_passwd_file();
  publish_pool();
  spawn_missing();
  if (stats_ != nullptr) (void)stats_->start();
  // Every port was bound before the master started, and the pool is
  // forked: connections are accepted (or queue) from here on.
  notifier_.ready(status_line());
  for (;;) {
    if (stopping_ && workers_.empty()) break;
    if (!stopping_ && fatal_config_ && current_workers() == 0) {
      log_error("no worker can run with these settings; stopping");
      return 1;
    }
    // The handled signals are blocked everywhere but here, so a flag can
    // never be set between the checks below and the wait. ppoll with the
    // same mask is sigsuspend that also wakes for the passwd-file's inotify
    // descriptor (none: exactly sigsuspend). It needs no new signal, as an
    // O_ASYNC descriptor would, and nothing changes for the handlers.
    bool passwd_events = false;
    if (!flags.child_exited && !flags.terminate && !flags.graceful && !flags.reload &&
        !flags.alarm && !flags.reopen) {
      pollfd watch{};
      watch.fd = passwd_watch_ ? passwd_watch_->fd() : -1;
      watch.events = POLLIN;
      const nfds_t count = watch.fd >= 0 ? 1 : 0;
      // Under systemd the status line is refreshed now and then; otherwise
      // the master sleeps until something happens.
      const timespec status_period{kStatusPeriodSeconds, 0};
      const timespec* timeout = notifier_.enabled() ? &status_period : nullptr;
      passwd_events = ::ppoll(&watch, count, timeout, &mask) > 0 && (watch.revents & POLLIN);
    }
    if (flags.child_exited) {
      flags.child_exited = 0;
      reap();
    }
    if (flags.terminate) {
      flags.terminate = 0;
      begin_shutdown(false);
    }
    if (flags.graceful) {
      flags.graceful = 0;
      begin_shutdown(true);
    }
    if (flags.reload) {
      flags.reload = 0;
      if (!stopping_) reload();
    }
    if (flags.reopen) {
      flags.reopen = 0;
      // logrotate signals the master alone: its own file now, and every
      // worker is told (those forked by the reload above too, harmlessly).
      // Not the privileged helper: it runs as root and the kernel refuses
      // our signal; it sees the rotation itself (Logger follow_renames).
      Logger::instance().reopen_if_requested();
      for (const auto& w : workers_) ::kill(w.pid, kReopenLogSignal);
    }
    // Drained even while stopping: a readable descriptor left unread would
    // make every ppoll return at once, and the loop would spin.
    if (passwd_events) on_passwd_events();
    if (flags.alarm) {
      flags.alarm = 0;
      on_tick();
    }
    if (!stopping_ && !respawn_pending_) spawn_missing();
    if (!stopping_ && stats_ != nullptr) stats_->restart_if_due();
    update_timer();
    if (!stopping_) publish_status();
  }
  log_notice("stopped");
  return 0;
}

size_t Master::current_workers() const {
  return static_cast<size_t>(std::count_if(workers_.begin(), workers_.end(), [&](const auto& w) {
    return w.generation == generation_;
  }));
}

void Master::spawn_missing() {
  if (fatal_config_) return;
  const size_t wanted =
      static_cast<size_t>(service_->settings->pop3.max_connections) + kSpareWorkers;
  while (current_workers() < wanted) {
    if (!spawn_worker()) {
      // fork failed (out of processes or memory): try again later.
      respawn_pending_ = true;
      respawn_delay_ = std::min(std::max(respawn_delay_ * 2, kFirstRespawnDelay), kMaxRespawnDelay);
      respawn_at_ = Clock::now() + respawn_delay_;
      return;
    }
  }
}

bool Master::spawn_worker() {
  // System users: a channel of the worker's own to the privileged helper.
  // The helper's end goes to the helper before the fork, so the master
  // never keeps one and no worker ever sees another's.
  UniqueFd worker_channel;
  if (service_->privsep) {
    if (helper_ == nullptr || !helper_->control) {
      log_error("no privileged helper for auth.backend " + service_->settings->auth.backend);
      return false;
    }
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
      log_error("cannot make a worker's channel: " + Error::from_errno("socketpair").message);
      return false;
    }
    worker_channel.reset(sv[0]);
    const UniqueFd helper_end(sv[1]);
    if (Status s = master_hand_channel(helper_->control.get(), helper_end); !s) {
      log_error("cannot hand a channel to the privileged helper: " + s.error().message);
      return false;
    }
  }
  // A worker must not outlive its master: it finishes its session and
  // exits when the master is gone.
  Result<pid_t> forked = fork_with_pdeathsig();
  if (!forked) {
    log_error("cannot fork a worker: " + forked.error().message);
    return false;
  }
  const pid_t pid = *forked;
  if (pid == 0) {
    // Only the master may hand channels to the helper.
    if (helper_ != nullptr) helper_->control.reset();
    // A worker that read the master's inotify descriptor would take the
    // events the master waits for.
    passwd_watch_.reset();
    // Only the master may say which passwd-file table is current.
    if (service_->passwd_users != nullptr) service_->passwd_users->version()->drop_write_access();
    if (service_->privsep) service_->privsep->attach(std::move(worker_channel));
    signal_flags() = SignalFlags{};
    exit_forked_child(run_worker(*service_, listeners_));
  }
  workers_.push_back(WorkerSlot{pid, generation_, Clock::now()});
  return true;
}

void Master::reap() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (helper_ != nullptr && pid == helper_->pid) {
      log_error("privsep: the privileged helper " + describe_exit(status) +
                "; no login can be checked without it, stopping");
      helper_->pid = 0;
      helper_->control.reset();
      begin_shutdown(false);
      continue;
    }
    if (stats_ != nullptr && stats_->reaped(pid, status)) continue;
    auto it = std::find_if(workers_.begin(), workers_.end(),
                           [pid](const WorkerSlot& w) { return w.pid == pid; });
    if (it == workers_.end()) continue;
    const WorkerSlot slot = *it;
    workers_.erase(it);
    // a worker killed mid-session
    if (shared_.connections.release(pid) == TableAccess::kBusy) release_pending_ = true;
    if (stopping_ || slot.generation != generation_) continue;  // expected exit
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitOk;
    if (WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitFatalConfig) {
      log_error("worker " + std::to_string(pid) +
                " cannot run with these settings; not respawning it");
      fatal_config_ = true;
      continue;
    }
    if (!clean) log_warning("worker " + std::to_string(pid) + " " + describe_exit(status));
    if (Clock::now() - slot.started < kQuickDeath && !clean) {
      respawn_delay_ = std::min(std::max(respawn_delay_ * 2, kFirstRespawnDelay), kMaxRespawnDelay);
      respawn_at_ = Clock::now() + respawn_delay_;
      respawn_pending_ = true;
      log_warning("workers are dying at once; next respawn in " +
                  std::to_string(respawn_delay_.count()) + " ms");
    } else {
      respawn_delay_ = std::chrono::milliseconds{0};
    }
  }
}

void Master::reload() {
  notifier_.reloading();
  // However the reload ends, the daemon serves on (with the old settings
  // when the new ones fail): systemd hears READY=1 again.
  struct ReadyAgain {
    Master& m;
    ~ReadyAgain() { m.notifier_.ready(m.status_line()); }
  } ready_again{*this};
  log_notice("reloading settings from " + config_file_);
  auto loaded = load_settings(config_file_, overrides_);
  if (!loaded) {
    log_error("reload failed, keeping the running settings: " + loaded.error().message);
    return;
  }
  for (const auto& warning : loaded->warnings) log_warning(warning);
  auto next = std::make_shared<Settings>(loaded->settings);
  for (const auto& name : keep_restart_only_settings(*service_->settings, *next)) {
    log_warning("reload: " + name + " changed; it takes effect only after a restart");
  }
  auto service = build_service(next, service_.get());
  if (!service) {
    log_error("reload failed, keeping the running settings: " + service.error().message);
    return;
  }
  for (const auto& warning : (*service)->warnings) log_warning(warning);
  Logger::instance().set_level(next->log.level);
  service_ = std::move(*service);
  service_->shared = &shared_;
  if (service_->passwd_users != nullptr) service_->passwd_users->publish();
  // auth.passwd_file may name another file now.
  watch_passwd_file();
  replace_workers();
  publish_pool();
  log_notice("reloaded: " + std::to_string(next->pop3.max_connections) + " workers");
}

void Master::replace_workers() {
  // Listening sockets are kept, so nothing is refused meanwhile.
  ++generation_;
  fatal_config_ = false;
  respawn_pending_ = false;
  respawn_delay_ = std::chrono::milliseconds{0};
  for (const auto& w : workers_) {
    if (w.generation != generation_) ::kill(w.pid, SIGQUIT);
  }
  spawn_missing();
}

void Master::watch_passwd_file() {
  passwd_watch_.reset();
  passwd_check_pending_ = false;
  if (service_->passwd_users == nullptr) return;
  passwd_watch_ = std::make_unique<PasswdFileWatch>(service_->passwd_users->path());
  if (passwd_watch_->polling()) {
    log_notice("passwd-file " + log_escape(service_->passwd_users->path(), 400) +
               ": cannot watch it with inotify; looking at it every " +
               std::to_string(kPasswdPollInterval.count()) + " ms");
    passwd_check_pending_ = true;
    passwd_check_at_ = Clock::now() + kPasswdPollInterval;
  }
}

void Master::on_passwd_events() {
  if (!passwd_watch_) return;
  const PasswdFileWatch::Events events = passwd_watch_->drain();
  if (events.check_now) {
    check_passwd_file();
  } else if (events.check_later) {
    // Each write pushes the look further out, so a file that is being
    // written is read once, after its last write.
    passwd_check_pending_ = true;
    passwd_check_at_ = Clock::now() + kPasswdSettleDelay;
  }
}

void Master::check_passwd_file() {
  passwd_check_pending_ = false;
  if (passwd_watch_ && passwd_watch_->polling()) {
    passwd_check_pending_ = true;
    passwd_check_at_ = Clock::now() + kPasswdPollInterval;
  }
  if (stopping_ || service_->passwd_users == nullptr) return;
  PasswdFileUsers& users = *service_->passwd_users;
  if (users.reload_if_changed() != PasswdReload::kReloaded) return;
  if (passwd_watch_) passwd_watch_->refresh();  // a symlink may point elsewhere now
  // The old table's pages are free now but still mapped, scattered among
  // the new table's. Handing them back before the fork keeps the master
  // from touching them again while a worker still shares them (each such
  // write would leave that worker a page of its own).
  ::malloc_trim(0);
  // Only the master read the file; workers forked from now on share its
  // table instead of each holding a copy.
  log_notice("passwd-file " + log_escape(users.path(), 400) +
             " changed: " + std::to_string(users.user_count()) + " users; replacing the workers");
  replace_workers();
}

void Master::begin_shutdown(bool graceful) {
  if (stopping_ && graceful) return;
  if (!stopping_) {
    log_notice(graceful ? "graceful shutdown: waiting for sessions to finish"
                        : "shutting down: sessions get " +
                              std::to_string(service_->settings->general.shutdown_timeout.count()) +
                              " s to finish");
  }
  if (!stopping_) notifier_.stopping();
  stopping_ = true;
  respawn_pending_ = false;
  listeners_.clear();  // the master's copies; workers close theirs on exit
  if (stats_ != nullptr) stats_->stop();
  for (const auto& w : workers_) ::kill(w.pid, graceful ? SIGQUIT : SIGTERM);
  if (!graceful && !shutdown_has_deadline_) {
    shutdown_has_deadline_ = true;
    shutdown_deadline_ = Clock::now() + service_->settings->general.shutdown_timeout;
  }
}

void Master::on_tick() {
  const auto now = Clock::now();
  if (stopping_ && shutdown_has_deadline_ && now >= shutdown_deadline_ && !workers_.empty()) {
    log_warning("shutdown deadline reached; ending " + std::to_string(workers_.size()) +
                " remaining session(s)");
    for (const auto& w : workers_) ::kill(w.pid, SIGKILL);
    shutdown_has_deadline_ = false;
  }
  if (respawn_pending_ && now >= respawn_at_) {
    respawn_pending_ = false;
    spawn_missing();
  }
  if (passwd_check_pending_ && now >= passwd_check_at_) check_passwd_file();
  // Slots of dead workers that reap() could not free because a worker held
  // the table's lock: the master never waits for it, it tries again.
  release_pending_ = shared_.connections.retry_releases() == TableAccess::kBusy;
}

void Master::update_timer() {
  const bool want = respawn_pending_ || release_pending_ || passwd_check_pending_ ||
                    (stopping_ && shutdown_has_deadline_) ||
                    (stats_ != nullptr && stats_->restart_pending());
  if (want == timer_armed_) return;
  itimerval it{};
  if (want) {
    it.it_interval.tv_usec = kTickMicros;
    it.it_value.tv_usec = kTickMicros;
  }
  ::setitimer(ITIMER_REAL, &it, nullptr);
  timer_armed_ = want;
}

std::string Master::status_line() {
  return std::to_string(shared_.connections.active_estimate()) + " of " +
         std::to_string(service_->settings->pop3.max_connections) + " sessions, " +
         std::to_string(current_workers()) + " workers";
}

void Master::publish_pool() {
  const auto max_sessions = static_cast<uint64_t>(service_->settings->pop3.max_connections);
  shared_.metrics.publish_pool(PoolShape{max_sessions, max_sessions + kSpareWorkers,
                                         service_->settings->pop3.anti_hammering});
}

void Master::publish_status() {
  if (!notifier_.enabled()) return;
  std::string line = status_line();
  if (line == last_status_) return;
  notifier_.status(line);
  last_status_ = std::move(line);
}

}  // namespace pop3d
