// The general.shared_state settings as the daemon uses them: checked, the
// Redis address parsed and the password read (by the master, at start-up,
// while it may still read a root-only file), and the factory that gives a
// process its AddressState.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "sharedstate/address_state.hpp"
#include "sharedstate/connection_counts.hpp"
#include "sharedstate/link_health.hpp"
#include "sharedstate/maildrop_leases.hpp"
#include "sharedstate/redis_link.hpp"

namespace pop3d {

struct SharedStateConfig {
  bool redis = false;  // backend "redis"; else this node's table alone
  RedisLinkConfig link;
  std::string key_prefix;
  // How long a session counts in Redis after its node last renewed it.
  std::chrono::milliseconds lease{30000};
};

// Errors name the setting. On reload (`previous` set) a password file the
// unprivileged master can no longer read keeps the loaded password, with
// a warning, as certificates do.
Result<SharedStateConfig> load_shared_state_config(const Settings& settings,
                                                   const SharedStateConfig* previous,
                                                   std::vector<std::string>& warnings);

// The first line of the file: "password", or "user password" for a Redis
// ACL user (a line with a space in it is always read that way).
Result<RedisCredentials> read_redis_credentials(const std::string& path);

// The AddressState of one process: `local` is the node's table; `health`
// the node's Redis up/down flag (null: log nothing, as the CLI wants).
// Null only for the local backend without a table.
std::unique_ptr<AddressState> make_address_state(const SharedStateConfig& config,
                                                 AntiHammerPolicy policy,
                                                 std::optional<LocalAddressState> local,
                                                 std::shared_ptr<LinkHealth> health);

// What one worker keeps in shared state: anti-hammering, and its sessions
// in the per-address counts, both on the worker's one Redis connection
// (the counts' LeaseKeeper has a second, for its thread). Made before the
// worker confines itself, which then can start no thread.
struct WorkerSharedState {
  std::unique_ptr<AddressState> addresses;
  std::unique_ptr<ConnectionCounts> connections;
  // Maildrop leases, on the same connection and keeper.
  std::unique_ptr<MaildropLeases> leases;
  // Worth logging: what the node falls back on (the keeper's thread could
  // not start, so this worker counts addresses on the node alone).
  std::string warning;
};
// `node` names this host in Redis (see RedisConnectionCounts).
WorkerSharedState make_worker_shared_state(const SharedStateConfig& config, AntiHammerPolicy policy,
                                           LocalAddressState local,
                                           std::shared_ptr<LinkHealth> health,
                                           const std::string& node);

}  // namespace pop3d
