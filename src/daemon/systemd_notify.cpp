#include "daemon/systemd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

#include "log/logger.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

SystemdNotifier SystemdNotifier::from_environment() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  SystemdNotifier notifier(path != nullptr ? std::string(path) : std::string());
  ::unsetenv("NOTIFY_SOCKET");
  return notifier;
}

Status SystemdNotifier::send(const std::string& message) const {
  if (path_.empty()) return {};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path || (path_[0] != '/' && path_[0] != '@')) {
    return Error{"NOTIFY_SOCKET \"" + path_ + "\" is not a socket path systemd would give"};
  }
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  // "@name": the abstract namespace, whose names start with a NUL byte.
  if (path_[0] == '@') addr.sun_path[0] = '\0';
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::from_errno("socket");
  // MSG_DONTWAIT: the master never waits on systemd; a full queue loses a
  // status line, which the next one replaces.
  if (::sendto(fd.get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&addr), len) < 0) {
    return Error::from_errno("sendto " + path_);
  }
  return {};
}

void SystemdNotifier::send_or_log(const std::string& message) {
  if (Status s = send(message); !s && !failure_logged_) {
    failure_logged_ = true;
    log_warning("systemd: cannot notify the service manager: " + s.error().message);
  }
}

void SystemdNotifier::ready(const std::string& status) {
  // MAINPID: after daemonize() the master is not the process systemd
  // started.
  send_or_log("READY=1\nSTATUS=" + status + "\nMAINPID=" + std::to_string(::getpid()));
}

void SystemdNotifier::reloading() {
  // Type=notify-reload wants the time of the reload request with it.
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  send_or_log("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading");
}

void SystemdNotifier::stopping() {
  send_or_log("STOPPING=1\nSTATUS=stopping");
}

void SystemdNotifier::status(const std::string& status) {
  send_or_log("STATUS=" + status);
}

}  // namespace pop3d
