#include "mailstore/dovecot_dotlock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <thread>

#include "util/small_file.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

namespace {

// How often a waiting process looks at the lock again: short next to the
// time Dovecot holds a uid-list lock (one file write), long enough not to
// spin.
constexpr std::chrono::milliseconds kLockPoll{50};
// A lock file's text is "<pid>:<host>"; more than this is not Dovecot's.
constexpr size_t kMaxLockText = 512;

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::optional<pid_t> parse_pid(std::string_view s) {
  pid_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

// A zombie has closed everything and will never touch its lock again, yet
// kill(pid, 0) calls it alive. It lasts as long as its parent does not
// reap it: a mail agent whose helper died with the master is handed to
// PID 1, which in many containers never reaps, and its lock would stand
// for good.
bool is_zombie(pid_t pid) {
  UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  auto text = read_small(fd.get(), 4096, "stat");
  if (!text) return false;
  // "pid (comm) S ...": comm may hold spaces and parentheses; the state
  // follows the last ')'.
  const size_t close = text->rfind(')');
  return close != std::string::npos && close + 2 < text->size() &&
         ((*text)[close + 2] == 'Z' || (*text)[close + 2] == 'X');
}

bool process_is_gone(pid_t pid) {
  // EPERM: alive, under another uid (Dovecot's pop3 as another user).
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  return is_zombie(pid);
}

bool is_stale(const std::string& path, std::chrono::seconds stale_after) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return errno == ENOENT;  // gone meanwhile: try again at once
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return false;
  const auto age =
      std::chrono::system_clock::now() - std::chrono::system_clock::from_time_t(st.st_mtime);
  if (age > stale_after) return true;
  if (!S_ISREG(st.st_mode)) return false;  // a FIFO planted here is nobody's lock
  auto text = read_small(fd.get(), kMaxLockText, "lock file");
  if (!text) return false;
  const size_t colon = text->find(':');
  if (colon == std::string::npos) return false;
  const std::optional<pid_t> pid = parse_pid(std::string_view(*text).substr(0, colon));
  std::string host = text->substr(colon + 1);
  while (!host.empty() && (host.back() == '\n' || host.back() == '\r')) host.pop_back();
  if (!pid || host != host_name()) return false;
  if (*pid == ::getpid()) return true;
  return process_is_gone(*pid);
}

// Creates the lock at `path` holding `holder`, or an Error with sys_errno
// EEXIST when it exists. The lock appears with its text already in it: the
// text goes into a file of this process's own, which is then hard-linked
// into place (link() refuses an existing name as O_EXCL does). Created in
// place and written after, a lock whose process was killed in between
// would be empty: no holder to judge, so it would stand until stale_after
// (an hour) had passed. test_faults met that after SIGKILLs of workers.
Result<UniqueFd> create_lock(const std::string& path, const std::string& holder, struct stat& st) {
  const std::string temp = path + ".tmp-" + host_name() + "-" + std::to_string(::getpid());
  ::unlink(temp.c_str());  // left by a dead process that had our pid
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd) return Error::from_errno("create " + temp);
  Status written = write_all(fd.get(), holder, temp);
  if (written && ::fstat(fd.get(), &st) != 0) written = Error::from_errno("fstat " + temp);
  if (!written) {
    ::unlink(temp.c_str());
    return written.error();
  }
  const int linked = ::link(temp.c_str(), path.c_str());
  const int link_errno = errno;
  // NFS: a link made on the server whose answer was lost reports EEXIST;
  // the inode then has the lock's name as its second link.
  struct stat now {};
  const bool ours =
      linked == 0 || (link_errno == EEXIST && ::fstat(fd.get(), &now) == 0 && now.st_nlink == 2);
  ::unlink(temp.c_str());
  if (ours) return fd;
  if (link_errno == EEXIST) return Error{"exists", EEXIST};
  if (link_errno != EPERM && link_errno != EOPNOTSUPP && link_errno != ENOSYS) {
    errno = link_errno;
    return Error::from_errno("link " + path);
  }
  // A file system without hard links: create in place, and take back a
  // lock whose text could not be written.
  UniqueFd direct(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!direct) {
    if (errno == EEXIST) return Error{"exists", EEXIST};
    return Error::from_errno("create " + path);
  }
  written = write_all(direct.get(), holder, path);
  if (written && ::fstat(direct.get(), &st) != 0) written = Error::from_errno("fstat " + path);
  if (!written) {
    ::unlink(path.c_str());
    return written.error();
  }
  return direct;
}

}  // namespace

Result<DovecotDotlock> DovecotDotlock::acquire(const std::string& path,
                                               std::chrono::seconds stale_after,
                                               std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  const std::string holder = std::to_string(::getpid()) + ":" + host_name();
  while (true) {
    struct stat st {};
    Result<UniqueFd> fd = create_lock(path, holder, st);
    if (fd) return DovecotDotlock(path, std::move(*fd), st.st_dev, st.st_ino);
    if (fd.error().sys_errno != EEXIST) return fd.error();
    if (is_stale(path, stale_after)) {
      // Dovecot breaks such a lock the same way; a second breaker racing
      // us finds ENOENT, and only one of us then creates the lock.
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return Error::from_errno("remove " + path);
      }
      continue;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error{path + " is held by a live process", EWOULDBLOCK};
    }
    std::this_thread::sleep_for(kLockPoll);
  }
}

DovecotDotlock::DovecotDotlock(DovecotDotlock&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::move(other.fd_)), dev_(other.dev_), ino_(other.ino_) {
  other.path_.clear();
}

bool DovecotDotlock::still_ours() const {
  struct stat st {};
  return ::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_;
}

DovecotDotlock::~DovecotDotlock() {
  if (!path_.empty() && still_ours()) ::unlink(path_.c_str());
}

void DovecotDotlock::touch() const {
  // Our own inode: a lock someone put in its place is not touched.
  if (fd_) ::futimens(fd_.get(), nullptr);
}

}  // namespace pop3d
