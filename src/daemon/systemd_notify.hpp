// SystemdNotifier: tells systemd (a unit with Type=notify) when pop3d is
// ready, reloading or stopping, and what it is doing, with the datagram
// protocol sd_notify(3) documents: one AF_UNIX datagram of "KEY=value"
// lines to the socket named by $NOTIFY_SOCKET. Without the variable every
// call does nothing, so a classic start is unchanged.
//
// No descriptor is kept between messages: they are few, and a worker forked
// from the master must not inherit a way to speak for it.
#pragma once

#include <string>

#include "util/result.hpp"

namespace pop3d {

class SystemdNotifier {
 public:
  // Takes $NOTIFY_SOCKET out of the environment, so that no child (a
  // worker, the privileged helper) ever reads it and speaks for the daemon.
  static SystemdNotifier from_environment();
  explicit SystemdNotifier(std::string socket_path = "") : path_(std::move(socket_path)) {}

  bool enabled() const { return !path_.empty(); }
  // Every port is bound and the pool is up; also ends a reload.
  void ready(const std::string& status);
  void reloading();
  void stopping();
  void status(const std::string& status);

  // The datagram itself, for callers and tests that compose their own.
  Status send(const std::string& message) const;

 private:
  // A failure is said once in the log, not at every status line.
  void send_or_log(const std::string& message);
  std::string path_;  // "" off; "@name" is the abstract namespace
  bool failure_logged_ = false;
};

}  // namespace pop3d
