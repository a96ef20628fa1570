#include "daemon/daemonize.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "util/unique_fd.hpp"

namespace pop3d {

Status daemonize() {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno("fork");
  if (pid > 0) ::_exit(0);
  if (::setsid() < 0) return Error::from_errno("setsid");
  pid = ::fork();
  if (pid < 0) return Error::from_errno("fork");
  if (pid > 0) ::_exit(0);
  if (::chdir("/") < 0) return Error::from_errno("chdir /");
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null) return Error::from_errno("open /dev/null");
  // stderr too: from here on, messages go to the configured log.
  for (int fd = 0; fd <= 2; ++fd) ::dup2(null.get(), fd);
  return {};
}

}  // namespace pop3d
