#include "daemon/service.hpp"

#include <unistd.h>

#include "auth/dummy_hash.hpp"
#include "auth/passwd_file_users.hpp"
#include "mailstore/maildir_store.hpp"
#include "privsep/client.hpp"

namespace pop3d {

namespace {
// The pid file's path without its ".pid": the shared tables' files go there.
std::string pid_file_stem(const Settings& settings) {
  std::string path = settings.general.pid_file;
  const std::string suffix = ".pid";
  if (path.size() > suffix.size() &&
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    path.resize(path.size() - suffix.size());
  }
  return path;
}
}  // namespace

std::string anti_hammer_table_path(const Settings& settings) {
  return pid_file_stem(settings) + ".hammer";
}

std::string connection_table_path(const Settings& settings) {
  return pid_file_stem(settings) + ".sessions";
}

WorkerSharedState make_worker_shared_state(const Service& service) {
  return make_worker_shared_state(
      service.shared_state, anti_hammer_policy(*service.settings),
      LocalAddressState(service.shared->anti_hammer, anti_hammer_policy(*service.settings)),
      service.redis_health, service.hostname);
}

bool backend_needs_privsep(const std::string& backend) {
  return backend == "system" || backend == "pam";
}

Result<std::unique_ptr<Service>> build_service(std::shared_ptr<const Settings> settings,
                                               const Service* previous) {
  auto service = std::make_unique<Service>();
  const Settings& s = *settings;
  service->settings = std::move(settings);

  if (backend_needs_privsep(s.auth.backend)) {
    // Passwords are checked and mail is read by the privileged helper and
    // the user's mail agent; the worker only holds a channel to them.
    service->privsep = std::make_shared<PrivsepChannel>();
    service->users = std::make_unique<PrivsepUserDb>(service->privsep);
    service->store = std::make_unique<AgentMailStore>(service->privsep);
    // Made once here, before the fork, so workers share it instead of
    // each hashing (and dirtying a page) at its first local refusal.
    (void)process_dummy_hash();
  } else if (s.auth.backend == "passwd-file") {
    // The version page outlives a reload, so that workers forked before it
    // learn when the table they hold is no longer the master's.
    std::shared_ptr<PasswdTableVersion> version;
    if (previous != nullptr && previous->passwd_users != nullptr) {
      version = previous->passwd_users->version();
    }
    auto users = std::make_unique<PasswdFileUsers>(s.auth.passwd_file, s.auth.mail_location,
                                                   std::move(version));
    if (!users->initial_load_status()) {
      return Error{"auth.passwd_file: " + users->initial_load_status().error().message};
    }
    service->passwd_users = users.get();
    service->users = std::move(users);
    auto uidl = UidlChoice::parse(s.pop3.uidl_format);
    if (!uidl) return Error{"pop3.uidl_format: " + uidl.error().message};
    auto shared = parse_shared_storage(s.mailstore.shared_storage);
    if (!shared) return Error{"mailstore.shared_storage: " + shared.error().message};
    service->store = std::make_unique<MaildirStore>(std::move(*uidl), *shared);
  } else {
    return Error{"auth.backend \"" + s.auth.backend + "\" is not available in this build"};
  }

  auto secure = IpList::parse(s.pop3.secure_networks);
  if (!secure) return Error{"pop3.secure_networks: " + secure.error().message};
  service->secure_networks = std::move(*secure);
  auto proxies = IpList::parse(s.pop3.proxy_trusted_networks);
  if (!proxies) return Error{"pop3.proxy_trusted_networks: " + proxies.error().message};
  if (s.pop3.proxy_protocol && proxies->interval_count() == 0) {
    return Error{
        "pop3.proxy_protocol is on, but pop3.proxy_trusted_networks names no proxy: "
        "no connection could be served"};
  }
  service->proxy_trusted = std::move(*proxies);
  auto rules = AddressRules::from(s);
  if (!rules) return rules.error();
  service->address_rules = std::move(*rules);
  auto shared_state = load_shared_state_config(
      s, previous != nullptr ? &previous->shared_state : nullptr, service->warnings);
  if (!shared_state) return shared_state.error();
  service->shared_state = std::move(*shared_state);
  if (service->shared_state.redis) {
    if (previous != nullptr && previous->redis_health) {
      service->redis_health = previous->redis_health;
    } else {
      auto health = LinkHealth::create();
      if (!health) return health.error();
      service->redis_health = std::move(*health);
    }
  }

  if (s.pop3.explicit_ssl || s.pop3.implicit_ssl) {
    auto tls = TlsContext::create(s, service->warnings);
    if (tls) {
      service->tls = std::move(*tls);
    } else if (previous != nullptr && previous->tls) {
      service->tls = previous->tls;
      service->warnings.push_back("certificates could not be re-read (" + tls.error().message +
                                  "); keeping the loaded ones until a restart");
    } else {
      return tls.error();
    }
  }

  service->hostname = s.general.hostname;
  if (service->hostname.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    service->hostname = name[0] ? name : "localhost";
  }
  return service;
}

}  // namespace pop3d
