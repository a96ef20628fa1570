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
#include "security/ip_list.hpp"
#include "tls/tls_context.hpp"
#include "util/result.hpp"

namespace pop3d {

struct Service {
  std::shared_ptr<const Settings> settings;
  std::unique_ptr<UserDb> users;
  std::unique_ptr<MailStore> store;
  IpList secure_networks;
  std::string hostname;
  // Set when STLS or the implicit-TLS port is on.
  std::shared_ptr<TlsContext> tls;
  // Worth saying at start-up or reload, not worth refusing to run.
  std::vector<std::string> warnings;
};

// Builds the Service for `settings`. On reload, `previous` is the running
// Service: certificates that the unprivileged master can no longer read
// are then kept from it (a restart is needed to change them).
Result<std::unique_ptr<Service>> build_service(std::shared_ptr<const Settings> settings,
                                               const Service* previous = nullptr);

}  // namespace pop3d
