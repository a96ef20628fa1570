// Dropping root: the master binds ports, opens the log and writes the pid
// file as root, then becomes general.user / general.group for good, before
// any process reads a byte from the network.
#pragma once

#include <sys/types.h>

#include <string>

#include "util/result.hpp"

namespace pop3d {

struct ServiceAccount {
  std::string user;
  uid_t uid = 0;
  gid_t gid = 0;
};

Result<ServiceAccount> lookup_service_account(const std::string& user, const std::string& group);

// setgroups, setgid, setuid, then proves that root cannot be regained.
// Refuses to "drop" to uid 0.
Status drop_privileges(const ServiceAccount& account);

// For a process that reads what others send (a worker, a mail agent), once
// it runs as its final user: no core files, no new processes, and no
// privileges gained through execve (set-uid programs, file capabilities).
// Whoever subverts such a process cannot start a program of their choice
// or escalate through one. Never undone; the process exits with it.
Status confine_process();

}  // namespace pop3d
