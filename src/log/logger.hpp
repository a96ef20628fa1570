// Logger: where every process of pop3d writes its log lines. The master opens
// the target (syslog with facility mail, stderr, or an append-only file)
// before it drops privileges; workers inherit it across fork.
//
// There is one logger per process, configured once at start-up; it is part of
// the process's own settings, like the settings object itself.
//
// A file target is reopened on request (SIGUSR1, after logrotate renamed the
// file): the signal handler only calls request_reopen(), and the next line
// logged, or reopen_if_requested(), opens the path anew. So no session code
// has to look for the request, and a process blocked in a session sees it
// with its first line afterwards.
#pragma once

#include <csignal>
#include <string>
#include <string_view>

#include "config/settings.hpp"
#include "util/result.hpp"

namespace pop3d {

class Logger {
 public:
  // The process's logger. Until configure() is called it writes to stderr.
  static Logger& instance();

  // Opens `target`: "syslog", "stderr" or a file path (opened for append).
  Status configure(const std::string& target, LogLevel level, std::string ident = "pop3d");
  void set_level(LogLevel level) { level_ = level; }
  LogLevel level() const { return level_; }
  // Tags every line with the process role ("master", "worker"), for stderr
  // and files; syslog lines carry the pid already.
  void set_role(std::string role) { role_ = std::move(role); }

  void log(LogLevel level, std::string_view message);
  bool enabled(LogLevel level) const { return level <= level_; }

  // Async-signal-safe: only records the request, for every logger of the
  // process (there is one).
  static void request_reopen() noexcept { reopen_requested_ = 1; }
  // Reopens a file target if a reopen was requested since the last one;
  // true when a new file is in use. Nothing to do for syslog and stderr.
  bool reopen_if_requested();
  // Opens the file path again and writes to the new file from now on. On
  // failure the old descriptor stays in use and the failure is said once
  // on it (and on stderr), until a reopen succeeds again.
  Status reopen();
  // For processes the master cannot signal (the privileged helper and its
  // check processes run as root, the master as the service user): before
  // each line, look whether the path still names the open file, and reopen
  // it when another file has taken its place. One lstat per line: these
  // processes log little. Kept across configure(), so that children that
  // reconfigure keep it.
  void set_follow_renames(bool on) { follow_renames_ = on; }

 private:
  Logger() = default;
  void write_line(LogLevel level, std::string_view message);
  // What the last open was told: "syslog", "stderr" or a path.
  std::string path_;
  bool reopen_failure_said_ = false;
  bool follow_renames_ = false;
  bool renamed_away() const;
  static inline volatile sig_atomic_t reopen_requested_ = 0;
  enum class Target { kStderr, kSyslog, kFile };
  Target target_ = Target::kStderr;
  LogLevel level_ = LogLevel::kInfo;
  int fd_ = 2;  // for kStderr and kFile
  std::string ident_ = "pop3d";
  std::string role_;
};

inline void log_error(std::string_view m) {
  Logger::instance().log(LogLevel::kError, m);
}
inline void log_warning(std::string_view m) {
  Logger::instance().log(LogLevel::kWarning, m);
}
inline void log_notice(std::string_view m) {
  Logger::instance().log(LogLevel::kNotice, m);
}
inline void log_info(std::string_view m) {
  Logger::instance().log(LogLevel::kInfo, m);
}
inline void log_debug(std::string_view m) {
  Logger::instance().log(LogLevel::kDebug, m);
}

// Makes a string safe for one log line: control bytes and non-ASCII become
// \xNN, and it is cut at `max` bytes, so a client cannot forge log lines.
std::string log_escape(std::string_view s, size_t max = 200);

}  // namespace pop3d
