// Service: everything a worker needs to serve sessions, built once by the
// master before it forks (settings, the user database parsed and indexed,
// the mail store, address lists), so no worker repeats that work per
// connection. A reload builds a new Service; the old one stays in use by
// the workers forked with it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "auth/user_db.hpp"
#include "config/settings.hpp"
#include "mailstore/mail_store.hpp"
#include "security/access_control.hpp"
#include "security/anti_hammer_table.hpp"
#include "security/connection_table.hpp"
#include "security/ip_list.hpp"
#include "sharedstate/link_health.hpp"
#include "sharedstate/shared_state_config.hpp"
#include "stats/metrics_table.hpp"
#include "tls/tls_context.hpp"
#include "util/result.hpp"

namespace pop3d {

class PasswdFileUsers;
class PrivsepChannel;

// True for the back-ends whose users are system accounts: they need the
// privileged helper (src/privsep) and so a start as root.
bool backend_needs_privsep(const std::string& backend);

// The tables every process of the daemon shares, made once by the master
// before the first fork and kept across reloads.
struct SharedTables {
  AntiHammerTable anti_hammer;
  ConnectionTable connections;
  MetricsTable metrics;  // counted by workers, read by the stats process
};

// Where the anti-hammering table of the daemon with this pid file lives, so
// that `pop3d --show-blocked` finds the running daemon's table.
std::string anti_hammer_table_path(const Settings& settings);
// Where the connection table lives, for `pop3d --who` / `--kick`.
std::string connection_table_path(const Settings& settings);

// Sessions allowed in the whole pool is pop3.max_connections; the pool has
// one worker more, so that the connection after the limit is answered at
// once with "-ERR [SYS/TEMP]" instead of waiting unanswered in the kernel's
// accept queue.
constexpr int kSpareWorkers = 1;
// The largest pool a reload may grow to (pop3.max_connections' maximum).
constexpr size_t kMaxPoolSize = 10000 + kSpareWorkers;

struct Service {
  std::shared_ptr<const Settings> settings;
  std::unique_ptr<UserDb> users;
  // `users` when it is the passwd-file backend, which the master watches
  // and re-reads; null otherwise.
  PasswdFileUsers* passwd_users = nullptr;
  std::unique_ptr<MailStore> store;
  IpList secure_networks;
  IpList proxy_trusted;  // pop3.proxy_trusted_networks
  AddressRules address_rules;
  SharedTables* shared = nullptr;  // set by the master; outlives every Service
  // general.shared_state, with the Redis password already read (workers
  // cannot read a root-only file). Each worker makes its own AddressState
  // and ConnectionCounts from it after the fork (make_worker_shared_state).
  SharedStateConfig shared_state;
  // The node's "Redis is down" flag, made before the first fork and handed
  // on at reload, so the node logs each change once; null for "local".
  std::shared_ptr<LinkHealth> redis_health;
  std::string hostname;
  // Set when STLS or the implicit-TLS port is on.
  std::shared_ptr<TlsContext> tls;
  // Worth saying at start-up or reload, not worth refusing to run.
  std::vector<std::string> warnings;
  // For system users: the worker's channel to the privileged helper, which
  // `users` and `store` talk through; attached by the master at fork.
  std::shared_ptr<PrivsepChannel> privsep;
};

// The AddressState and ConnectionCounts a worker serves with: the node's
// tables, and Redis in front of them when general.shared_state.backend is
// "redis".
WorkerSharedState make_worker_shared_state(const Service& service);

// Builds the Service for `settings`. On reload, `previous` is the running
// Service: certificates that the unprivileged master can no longer read
// are then kept from it (a restart is needed to change them).
Result<std::unique_ptr<Service>> build_service(std::shared_ptr<const Settings> settings,
                                               const Service* previous = nullptr);

}  // namespace pop3d
