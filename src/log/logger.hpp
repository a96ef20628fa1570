// Logger: where every process of pop3d writes its log lines. The master opens
// the target (syslog with facility mail, stderr, or an append-only file)
// before it drops privileges; workers inherit it across fork.
//
// There is one logger per process, configured once at start-up; it is part of
// the process's own settings, like the settings object itself.
#pragma once

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

 private:
  Logger() = default;
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
