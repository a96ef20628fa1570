#include "log/logger.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <string>

namespace pop3d {

namespace {

int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return LOG_ERR;
    case LogLevel::kWarning:
      return LOG_WARNING;
    case LogLevel::kNotice:
      return LOG_NOTICE;
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kDebug:
      return LOG_DEBUG;
  }
  return LOG_INFO;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kNotice:
      return "notice";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "info";
}

// The master opens this as root, possibly in a directory another user can
// write to: a link planted there would have root append to, or create, a
// file of the planter's choosing. A reopen after logrotate goes the same way.
Result<int> open_log_file(const std::string& path) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
  if (fd < 0 && errno == ELOOP) {
    return Error{"log.target: " + path +
                     " is a symbolic link, and pop3d does not follow links for its log file; "
                     "name the real file (or use \"stderr\" or \"syslog\")",
                 ELOOP};
  }
  if (fd < 0) return Error::from_errno("log.target: cannot open log file " + path);
  return fd;
}

}  // namespace

Logger& Logger::instance() {
  static Logger logger;
  return logger;
}

Status Logger::configure(const std::string& target, LogLevel level, std::string ident) {
  level_ = level;
  ident_ = std::move(ident);
  if (target_ == Target::kFile && fd_ > 2) ::close(fd_);
  path_.clear();
  reopen_failure_said_ = false;
  // Until the new target is open, lines go where the operator looks, not to
  // a closed descriptor.
  target_ = Target::kStderr;
  fd_ = 2;
  if (target == "syslog") {
    target_ = Target::kSyslog;
    fd_ = -1;
    // LOG_NDELAY connects now, while /dev/log is still reachable from the
    // master, so workers inherit a working socket.
    ::openlog(ident_.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
  } else if (target == "stderr") {
    target_ = Target::kStderr;
    fd_ = 2;
  } else {
    Result<int> fd = open_log_file(target);
    if (!fd) return fd.error();
    target_ = Target::kFile;
    fd_ = *fd;
    path_ = target;
  }
  return {};
}

bool Logger::reopen_if_requested() {
  if (!reopen_requested_) return false;
  // Cleared before the open: a request that comes during it is served by
  // this open, or by the next line's.
  reopen_requested_ = 0;
  if (target_ != Target::kFile) return false;
  return reopen().ok();
}

Status Logger::reopen() {
  if (target_ != Target::kFile) return {};
  Result<int> fd = open_log_file(path_);
  if (!fd) {
    if (!reopen_failure_said_) {
      reopen_failure_said_ = true;
      const std::string why =
          "cannot reopen the log file, still writing to the old one: " + fd.error().message;
      write_line(LogLevel::kError, why);
      const std::string line = "pop3d: " + why + "\n";
      ssize_t ignored = ::write(2, line.data(), line.size());
      (void)ignored;
    }
    return fd.error();
  }
  // dup3 keeps the descriptor's number, so nothing that holds it (a
  // forked child's copy is its own anyway) sees a closed descriptor, and a
  // line is written wholly to the old file or wholly to the new one.
  if (::dup3(*fd, fd_, O_CLOEXEC) < 0) {
    const Error e = Error::from_errno("log.target: dup3");
    ::close(*fd);
    return e;
  }
  ::close(*fd);
  reopen_failure_said_ = false;
  return {};
}

void Logger::log(LogLevel level, std::string_view message) {
  if (!enabled(level)) return;
  // A line logged after the request goes to the new file even when the
  // process has not lost sight of it: a session's lines go on as usual.
  reopen_if_requested();
  if (follow_renames_ && renamed_away()) (void)reopen();
  write_line(level, message);
}

bool Logger::renamed_away() const {
  if (target_ != Target::kFile) return false;
  struct stat open_file {};
  struct stat at_path {};
  if (::fstat(fd_, &open_file) < 0) return false;
  // Not there (yet): keep the file we have rather than create one as root
  // that the service user could not reopen.
  if (::lstat(path_.c_str(), &at_path) < 0) return false;
  return open_file.st_dev != at_path.st_dev || open_file.st_ino != at_path.st_ino;
}

void Logger::write_line(LogLevel level, std::string_view message) {
  if (target_ == Target::kSyslog) {
    ::syslog(syslog_priority(level), "%.*s", static_cast<int>(message.size()), message.data());
    return;
  }
  char stamp[32] = "";
  if (target_ == Target::kFile) {
    std::time_t now = std::time(nullptr);
    struct tm tm;
    ::localtime_r(&now, &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S ", &tm);
  }
  std::string line = stamp + ident_ + "[" + std::to_string(::getpid()) + "]";
  if (!role_.empty()) line += " " + role_;
  line += ": ";
  line += level_name(level);
  line += ": ";
  line.append(message.data(), message.size());
  line += '\n';
  // One write per line, so lines from many workers on one file do not mix.
  ssize_t ignored = ::write(fd_, line.data(), line.size());
  (void)ignored;
}

std::string log_escape(std::string_view s, size_t max) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace pop3d
