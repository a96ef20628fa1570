#include "daemon/pid_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "util/unique_fd.hpp"

namespace pop3d {

std::optional<pid_t> PidFile::read(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return std::nullopt;
  char buf[32] = {};
  const ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return std::nullopt;
  char* end = nullptr;
  const long pid = std::strtol(buf, &end, 10);
  if (pid <= 1 || (end && *end != '\n' && *end != '\0')) return std::nullopt;
  return static_cast<pid_t>(pid);
}

Result<PidFile> PidFile::create(const std::string& path, std::optional<uid_t> owner,
                                std::optional<gid_t> group) {
  if (auto running = read(path); running && ::kill(*running, 0) == 0) {
    return Error{"pop3d is already running as pid " + std::to_string(*running) + " (pid file " +
                 path + ")"};
  }
  const auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) == 0) {
      if (owner && ::chown(dir.c_str(), *owner, group.value_or(static_cast<gid_t>(-1))) < 0) {
        return Error::from_errno("cannot hand pid file folder " + dir + " to the service user");
      }
    } else if (errno != EEXIST) {
      return Error::from_errno("cannot create pid file folder " + dir);
    } else if (owner && dir.size() >= 6 && dir.compare(dir.size() - 6, 6, "/pop3d") == 0) {
      // Our own folder made for us beforehand (systemd's RuntimeDirectory
      // makes /run/pop3d owned by root): hand it over too, so the master
      // can remove its pid file after the drop. Other folders, such as
      // /run itself, are never touched.
      if (::chown(dir.c_str(), *owner, group.value_or(static_cast<gid_t>(-1))) < 0) {
        return Error::from_errno("cannot hand pid file folder " + dir + " to the service user");
      }
    }
  }
  const std::string tmp = path + ".tmp";
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd) return Error::from_errno("cannot write pid file " + tmp);
    const std::string text = std::to_string(::getpid()) + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      return Error::from_errno("cannot write pid file " + tmp);
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    return Error::from_errno("cannot write pid file " + path);
  }
  return PidFile(path, ::getpid());
}

PidFile::PidFile(PidFile&& other) noexcept
    : path_(std::move(other.path_)), owner_pid_(std::exchange(other.owner_pid_, 0)) {}

PidFile::~PidFile() {
  if (owner_pid_ != 0 && owner_pid_ == ::getpid()) ::unlink(path_.c_str());
}

}  // namespace pop3d
