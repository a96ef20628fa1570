// Master: the process that owns the listeners and the worker pool. It
// forks pop3.max_connections workers, replaces the ones that die (with a
// back-off when they die at once), re-reads the settings on SIGHUP and the
// passwd-file when it is edited, and shuts the pool down on SIGTERM. It
// never reads from a client.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "auth/passwd_file_users.hpp"
#include "config/config.hpp"
#include "daemon/service.hpp"
#include "daemon/systemd_notify.hpp"
#include "net/listener.hpp"
#include "privsep/helper.hpp"
#include "stats/stats_process.hpp"

namespace pop3d {

class Master {
 public:
  Master(std::string config_file, std::vector<Override> overrides, std::unique_ptr<Service> service,
         std::vector<Listener> listeners, SharedTables& shared);

  // Runs until the pool has stopped; returns the process exit code.
  int run();

  // System users: every worker gets a channel to this helper (which main
  // started before the privilege drop); a helper that dies stops pop3d.
  void attach_privsep_helper(HelperProcess* helper) { helper_ = helper; }
  // Under systemd (Type=notify): READY=1 once the pool is up, RELOADING=1
  // and READY=1 around a reload, STOPPING=1, and STATUS= lines.
  void attach_notifier(SystemdNotifier notifier) { notifier_ = std::move(notifier); }
  // stats.listen: the master starts the stats process with the pool,
  // restarts it when it dies and stops it at shutdown.
  void attach_stats(StatsSupervisor* stats) { stats_ = stats; }

 private:
  using Clock = std::chrono::steady_clock;
  struct WorkerSlot {
    pid_t pid = 0;
    unsigned generation = 0;
    Clock::time_point started;
  };

  void spawn_missing();
  bool spawn_worker();
  void reap();
  void reload();
  // Old workers finish their sessions and exit; new ones fork from the
  // master as it is now (new settings, or a new passwd-file table).
  void replace_workers();
  void watch_passwd_file();
  void on_passwd_events();
  void check_passwd_file();
  void begin_shutdown(bool graceful);
  void on_tick();
  void update_timer();
  size_t current_workers() const;
  // The STATUS= line for systemd: sessions and workers now.
  std::string status_line();
  void publish_status();
  // The pool's shape for the metrics' gauges (at start and each reload).
  void publish_pool();

  std::string config_file_;
  std::vector<Override> overrides_;
  std::unique_ptr<Service> service_;
  std::vector<Listener> listeners_;
  SharedTables& shared_;
  HelperProcess* helper_ = nullptr;
  StatsSupervisor* stats_ = nullptr;
  std::vector<WorkerSlot> workers_;
  unsigned generation_ = 0;

  // Respawn back-off: workers that die right after they start are
  // replaced after a growing delay instead of in a fork storm.
  std::chrono::milliseconds respawn_delay_{0};
  Clock::time_point respawn_at_{};
  bool respawn_pending_ = false;
  bool release_pending_ = false;  // a dead worker's slot waits for the table lock
  bool fatal_config_ = false;

  bool stopping_ = false;
  bool shutdown_has_deadline_ = false;
  Clock::time_point shutdown_deadline_{};
  bool timer_armed_ = false;

  // The passwd-file backend's watch (null for other back-ends), and when
  // the master looks at the file next: after a write settles, or at each
  // poll when there is no inotify.
  std::unique_ptr<PasswdFileWatch> passwd_watch_;
  SystemdNotifier notifier_;
  std::string last_status_;
  bool passwd_check_pending_ = false;
  Clock::time_point passwd_check_at_{};
};

// Settings that only a restart can change (they need root, or they shape
// what the master set up before the privilege drop). Returns their names
// where `next` differs from `running`, and puts the running values back in
// `next` so the process keeps one consistent view.
std::vector<std::string> keep_restart_only_settings(const Settings& running, Settings& next);

}  // namespace pop3d
