// Service: everything a worker needs to serve sessions, built once by the
// master before it forks (settings, the user database parsed and indexed,
// the mail store, address lists), so no worker repeats that work per
// connection. A reload builds a new Service; the old one stays in use by
// the workers forked with it.
#pragma once

#include <memory>
#include <string>

#include "auth/user_db.hpp"
#include "config/settings.hpp"
#include "mailstore/mail_store.hpp"
#include "security/ip_list.hpp"
#include "util/result.hpp"

namespace pop3d {

struct Service {
  std::shared_ptr<const Settings> settings;
  std::unique_ptr<UserDb> users;
  std::unique_ptr<MailStore> store;
  IpList secure_networks;
  std::string hostname;
};

Result<std::unique_ptr<Service>> build_service(std::shared_ptr<const Settings> settings);

}  // namespace pop3d
