// pop3d: start-up. Everything here runs once, in order; a failure at any
// step is said on stderr with a non-zero exit, and nothing is started.
#include <unistd.h>

#include <csignal>

#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>

#include "admin/print_uidls.hpp"
#include "admin/who.hpp"
#include "config.h"
#include "config/config.hpp"
#include "daemon/daemonize.hpp"
#include "daemon/master.hpp"
#include "daemon/pid_file.hpp"
#include "daemon/privileges.hpp"
#include "daemon/service.hpp"
#include "daemon/signals.hpp"
#include "daemon/systemd_notify.hpp"
#include "log/logger.hpp"
#include "net/listener.hpp"
#include "privsep/helper.hpp"
#include "security/access_control.hpp"
#include "sharedstate/shared_state_config.hpp"
#include "stats/stats_process.hpp"
#include "stats/table_gauges.hpp"
#include "util/proc_title.hpp"

namespace pop3d {
namespace {

// Start-up is the one place where an error means the whole operation
// failed; it is thrown here and reported once by main().
struct StartupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
T must(Result<T> r) {
  if (!r) throw StartupError(r.error().message);
  return std::move(*r);
}

void must(const Status& s) {
  if (!s) throw StartupError(s.error().message);
}

// -t: everything start-up checks short of binding and forking.
void check_only(const Settings& s) {
  must(resolve_service_addresses(s, s.pop3.port));
  if (s.pop3.implicit_ssl) must(resolve_service_addresses(s, s.pop3.ssl_port));
  if (!s.stats.listen.empty()) must(parse_stats_listen(s.stats.listen));
  auto service = must(build_service(std::make_shared<Settings>(s)));
  for (const auto& warning : service->warnings) std::cerr << "pop3d: warning: " << warning << "\n";
}

int start(const CommandLine& cl, LoadedSettings loaded) {
  auto settings = std::make_shared<Settings>(std::move(loaded.settings));
  const Settings& s = *settings;
  if (!s.pop3.enabled) {
    std::cerr << "pop3d: pop3.enabled is false in " << cl.config_file << ": nothing to serve\n";
    return 0;
  }
  const bool root = ::geteuid() == 0;
  // Out of the environment before any child is forked: only the master
  // speaks to systemd.
  SystemdNotifier notifier = SystemdNotifier::from_environment();
  // Handlers first and the signals blocked: a SIGHUP or SIGTERM that comes
  // while start-up binds and loads would otherwise kill the daemon (their
  // default action); blocked, it waits and the master handles it.
  install_signal_handlers();
  if (backend_needs_privsep(s.auth.backend) && !root) {
    throw StartupError("auth.backend \"" + s.auth.backend +
                       "\" needs pop3d to be started as root: only root can read the shadow "
                       "passwords and become the users who own the mail");
  }

  // In the foreground, syslog gives way to stderr, where the operator looks.
  const std::string log_target =
      cl.foreground && s.log.target == "syslog" ? std::string("stderr") : s.log.target;
  must(Logger::instance().configure(log_target, s.log.level));
  for (const auto& warning : loaded.warnings) log_warning(warning);

  std::vector<Listener> listeners = must(open_service_listeners(s));
  UniqueFd stats_listener = must(open_stats_listener(s.stats.listen));  // invalid when off
  auto service = must(build_service(settings));
  for (const auto& warning : service->warnings) log_warning(warning);

  std::optional<ServiceAccount> account;
  if (root) account = must(lookup_service_account(s.general.user, s.general.group));

  if (!cl.foreground) must(daemonize());

  std::optional<uid_t> owner;
  std::optional<gid_t> group;
  if (account) {
    owner = account->uid;
    group = account->gid;
  }
  PidFile pid_file = must(PidFile::create(s.general.pid_file, owner, group));
  const std::string table_path = anti_hammer_table_path(s);
  const std::string sessions_path = connection_table_path(s);
  std::optional<AntiHammerTable::Owner> table_owner;
  std::optional<ConnectionTable::Owner> sessions_owner;
  if (account) {
    table_owner = AntiHammerTable::Owner{account->uid, account->gid};
    sessions_owner = ConnectionTable::Owner{account->uid, account->gid};
  }
  SharedTables shared{
      must(AntiHammerTable::create(
          table_path, static_cast<size_t>(s.general.anti_hammering.table_size), table_owner)),
      must(ConnectionTable::create(sessions_path, kMaxPoolSize, sessions_owner)),
      must(MetricsTable::create())};

  // System users: the one process that stays root, started before the drop.
  std::optional<HelperProcess> helper;
  if (backend_needs_privsep(s.auth.backend)) {
    helper = must(start_privsep_helper(s, log_target));
  }

  if (account) {
    must(drop_privileges(*account));
    log_info("running as " + account->user + " (uid " + std::to_string(account->uid) + ")");
  } else {
    log_warning("not started as root: running as uid " + std::to_string(::geteuid()) +
                " without a privilege drop");
  }
  for (const auto& l : listeners) {
    log_info(std::string("listening on ") + l.address.to_string() +
             (l.implicit_tls ? " (implicit TLS)" : ""));
  }
  // The stats process must not hold the POP3 listeners or the helper's
  // control channel: it closes them first thing after its fork.
  std::vector<int> pop3_fds;
  for (const auto& l : listeners) pop3_fds.push_back(l.fd.get());
  if (helper) pop3_fds.push_back(helper->control.get());
  if (stats_listener) log_info("serving metrics on " + s.stats.listen);
  StatsSupervisor stats(std::move(stats_listener), shared.metrics, [pop3_fds] {
    for (int fd : pop3_fds) ::close(fd);
  });
  Master master(cl.config_file, cl.overrides, std::move(service), std::move(listeners), shared);
  if (helper) master.attach_privsep_helper(&*helper);
  if (stats.has_listener()) master.attach_stats(&stats);
  TableGauges gauges(shared.anti_hammer, anti_hammer_policy(s), shared.connections, shared.metrics,
                     kMaxPoolSize);
  stats.set_gauge_source(&gauges);
  master.attach_notifier(std::move(notifier));
  const int code = master.run();
  ::unlink(table_path.c_str());
  ::unlink(sessions_path.c_str());
  return code;
}

// --show-blocked / --unblock ADDR: work on the running daemon's shared
// anti-hammering table, found next to its pid file, and with backend
// "redis" on the blocks every node shares (this host need not run pop3d).
int manage_blocks(const CommandLine& cl, const Settings& s) {
  std::vector<std::string> warnings;
  const SharedStateConfig shared = must(load_shared_state_config(s, nullptr, warnings));
  for (const auto& warning : warnings) std::cerr << "pop3d: warning: " << warning << "\n";
  const AntiHammerPolicy policy = anti_hammer_policy(s);
  auto table = AntiHammerTable::open(anti_hammer_table_path(s));
  if (!table && !shared.redis) throw StartupError(table.error().message);
  std::optional<LocalAddressState> local;
  if (table) local.emplace(*table, policy);
  // No health flag: the CLI says what went wrong itself, on stderr.
  const std::unique_ptr<AddressState> state = make_address_state(shared, policy, local, nullptr);
  const std::string redis_text =
      shared.redis ? "redis at " + shared.link.endpoint.text : std::string("the local table");
  if (!cl.unblock.empty()) {
    auto key = parse_ip_key(cl.unblock);
    if (!key) throw StartupError("--unblock: " + key.error().message);
    auto lifted = state->unblock(*key);
    if (!lifted) throw StartupError(redis_text + ": " + lifted.error().message);
    if (!*lifted) {
      std::cerr << "pop3d: " << cl.unblock << " is not blocked\n";
      return 1;
    }
    std::cout << "unblocked " << cl.unblock << "\n";
    return 0;
  }
  auto blocked = state->blocked(AntiHammerTable::now());
  int code = 0;
  if (!blocked) {
    if (!local) throw StartupError(redis_text + ": " + blocked.error().message);
    std::cerr << "pop3d: " << redis_text << ": " << blocked.error().message
              << "; showing this node's own table\n";
    blocked = local->blocked(AntiHammerTable::now());
    code = 1;
  }
  if (blocked->empty()) std::cout << "no address is blocked\n";
  for (const auto& b : *blocked) {
    std::cout << b.address << " blocked for " << b.seconds_left << " s more (" << b.failures
              << " failed logins)\n";
  }
  return code;
}

int run(int argc, char** argv) {
  // Before anything keeps a pointer into the environment, which it moves.
  init_proc_title(argc, argv);
  // SIGUSR1 means "reopen the log" (logrotate's postrotate); until the
  // handlers are in place its default action, termination, must not apply.
  ::signal(SIGUSR1, SIG_IGN);
  // Before anything can change it: relative paths are taken from here, also
  // at a SIGHUP long after daemonize() went to "/".
  (void)start_directory();
  CommandLine cl = must(parse_command_line(argc, argv));
  if (cl.help) {
    std::cout << help_text();
    return 0;
  }
  if (cl.version) {
    std::cout << PACKAGE_NAME " " PACKAGE_VERSION "\n";
    return 0;
  }
  LoadedSettings loaded = must(load_settings(cl.config_file, cl.overrides));
  if (cl.print_config) {
    std::cout << print_config(loaded.settings);
    return 0;
  }
  if (cl.check_config) {
    for (const auto& warning : loaded.warnings) std::cerr << "pop3d: warning: " << warning << "\n";
    check_only(loaded.settings);
    std::cout << "pop3d: configuration " << cl.config_file << " is OK\n";
    return 0;
  }
  if (cl.show_blocked || !cl.unblock.empty()) return manage_blocks(cl, loaded.settings);
  if (!cl.print_uidls.empty())
    return print_uidls(loaded.settings, cl.print_uidls, std::cout, std::cerr);
  if (cl.who) return show_sessions(loaded.settings, cl.json, std::cout, std::cerr);
  if (!cl.kick.empty()) return kick_sessions(loaded.settings, cl.kick, std::cout, std::cerr);
  return start(cl, std::move(loaded));
}

}  // namespace
}  // namespace pop3d

int main(int argc, char** argv) {
  try {
    return pop3d::run(argc, argv);
  } catch (const pop3d::StartupError& e) {
    std::cerr << "pop3d: " << e.what() << "\n";
    pop3d::log_error(e.what());
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "pop3d: fatal: " << e.what() << "\n";
    return 1;
  }
}
