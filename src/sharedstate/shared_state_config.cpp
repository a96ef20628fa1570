#include "sharedstate/shared_state_config.hpp"

#include <fcntl.h>

#include "sharedstate/redis_address_state.hpp"
#include "sharedstate/redis_connection_counts.hpp"
#include "sharedstate/redis_maildrop_leases.hpp"
#include "util/small_file.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

namespace {

// A Redis password (or ACL user and password) is a line; anything longer
// is not a password file.
constexpr size_t kMaxPasswordFile = 4096;

}  // namespace

Result<RedisCredentials> read_redis_credentials(const std::string& path) {
  const std::string what = "general.shared_state.password_file " + path;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return Error::from_errno("cannot open " + what);
  auto text = read_small(fd.get(), kMaxPasswordFile, what);
  if (!text) return text.error();
  SecretString whole(*text);
  OPENSSL_cleanse(text->data(), text->size());
  std::string_view line = whole.view().substr(0, whole.view().find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return Error{what + ": the first line (the password) is empty"};
  RedisCredentials c;
  const auto space = line.find(' ');
  if (space == std::string_view::npos) {
    c.password = SecretString(line);
  } else {
    c.user = std::string(line.substr(0, space));
    c.password = SecretString(line.substr(space + 1));
    if (c.user.empty() || c.password.empty()) {
      return Error{what + ": expected \"password\" or \"user password\" on the first line"};
    }
  }
  return c;
}

Result<SharedStateConfig> load_shared_state_config(const Settings& settings,
                                                   const SharedStateConfig* previous,
                                                   std::vector<std::string>& warnings) {
  const auto& s = settings.general.shared_state;
  SharedStateConfig c;
  c.redis = s.backend == "redis";
  c.key_prefix = s.key_prefix;
  c.link.timeout = s.timeout;
  c.lease = s.lease;
  // Renewed every third of the lease, each renewal bounded by the
  // time-out: a slow Redis must not let a live session's lease run out.
  if (c.lease < 3 * c.link.timeout) {
    return Error{
        "general.shared_state.lease must be at least three times "
        "general.shared_state.timeout"};
  }
  // Checked whatever the backend, so that switching to Redis later does
  // not reveal an old mistake at a restart.
  auto endpoint = RedisEndpoint::parse(s.redis);
  if (!endpoint) return Error{"general.shared_state.redis: " + endpoint.error().message};
  c.link.endpoint = std::move(*endpoint);
  if (!c.redis || s.password_file.empty()) return c;
  auto credentials = read_redis_credentials(s.password_file);
  if (credentials) {
    c.link.credentials = std::make_shared<const RedisCredentials>(std::move(*credentials));
  } else if (previous != nullptr && previous->link.credentials) {
    c.link.credentials = previous->link.credentials;
    warnings.push_back(credentials.error().message +
                       "; keeping the loaded Redis password until a restart");
  } else {
    return credentials.error();
  }
  return c;
}

std::unique_ptr<AddressState> make_address_state(const SharedStateConfig& config,
                                                 AntiHammerPolicy policy,
                                                 std::optional<LocalAddressState> local,
                                                 std::shared_ptr<LinkHealth> health) {
  if (!config.redis) {
    if (!local) return nullptr;
    return std::make_unique<LocalAddressState>(*local);
  }
  return std::make_unique<RedisAddressState>(
      std::make_unique<RedisLink>(config.link, std::move(health)), config.key_prefix, policy,
      std::move(local));
}

WorkerSharedState make_worker_shared_state(const SharedStateConfig& config, AntiHammerPolicy policy,
                                           LocalAddressState local,
                                           std::shared_ptr<LinkHealth> health,
                                           const std::string& node) {
  WorkerSharedState w;
  if (!config.redis) {
    w.addresses = std::make_unique<LocalAddressState>(local);
    w.connections = std::make_unique<LocalConnectionCounts>();
    w.leases = std::make_unique<LocalMaildropLeases>();
    return w;
  }
  auto link = std::make_shared<RedisLink>(config.link, std::move(health));
  w.addresses = std::make_unique<RedisAddressState>(link, config.key_prefix, policy, local);
  auto keeper = LeaseKeeper::start(config.link, config.lease / 3);
  if (!keeper) {
    w.warning = keeper.error().message +
                "; this worker counts general.max_connections_per_ip on this node alone, "
                "and holds maildrops by their file locks alone";
    w.connections = std::make_unique<LocalConnectionCounts>();
    w.leases = std::make_unique<LocalMaildropLeases>();
    return w;
  }
  std::shared_ptr<LeaseKeeper> shared_keeper = std::move(*keeper);
  w.connections = std::make_unique<RedisConnectionCounts>(link, shared_keeper, config.key_prefix,
                                                          policy.ipv6_prefix, config.lease, node);
  w.leases = std::make_unique<RedisMaildropLeases>(std::move(link), std::move(shared_keeper),
                                                   config.key_prefix, config.lease, node);
  return w;
}

}  // namespace pop3d
