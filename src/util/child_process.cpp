#include "util/child_process.hpp"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

namespace pop3d {

Result<pid_t> fork_with_pdeathsig() {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno("fork");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(0);
  }
  return pid;
}

Result<ChildChannel> fork_child_with_channel() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    return Error::from_errno("socketpair");
  }
  UniqueFd parent_end(sv[0]);
  UniqueFd child_end(sv[1]);
  Result<pid_t> pid = fork_with_pdeathsig();
  if (!pid) return pid.error();
  if (*pid != 0) return ChildChannel{*pid, std::move(parent_end)};
  const int keep = child_end.get();
  if (keep > 3) ::close_range(3, static_cast<unsigned>(keep - 1), 0);
  ::close_range(static_cast<unsigned>(keep + 1), ~0u, 0);
  (void)parent_end.release();  // closed with the ranges above
  return ChildChannel{0, std::move(child_end)};
}

}  // namespace pop3d
