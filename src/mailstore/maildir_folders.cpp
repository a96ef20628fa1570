#include "mailstore/maildir_folders.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include "log/logger.hpp"
#include "mailstore/crlf_size.hpp"

namespace pop3d::maildir {

namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirHandle = std::unique_ptr<DIR, DirCloser>;

// mkdir that treats "already there" as success (another session or the MDA
// may create it at the same moment).
bool make_dir_at(int dir_fd, const char* path) {
  return ::mkdirat(dir_fd, path, kMaildirMode) == 0 || errno == EEXIST;
}

}  // namespace

Status list_files(int dir_fd, const std::string& dir_label, size_t limit, bool quiet, bool in_new,
                  std::string& arena, std::vector<ListedName>& out, bool& truncated) {
  // A fresh open file description, so this listing's position is its own.
  const int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open " + dir_label);
  DirHandle dir(::fdopendir(fd));
  if (!dir) {
    const int err = errno;
    ::close(fd);
    return Error::from_errno("fdopendir " + dir_label, err);
  }
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir.get());
    if (entry == nullptr) {
      if (errno != 0) return Error::from_errno("readdir " + dir_label);
      break;
    }
    if (entry->d_name[0] == '.') continue;  // ".", "..", and hidden files
    bool regular = entry->d_type == DT_REG;
    if (entry->d_type == DT_UNKNOWN) {
      // Some file systems leave d_type out; only then does a name cost a stat.
      struct stat st;
      regular = ::fstatat(::dirfd(dir.get()), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG(st.st_mode);
    }
    if (!regular) {
      if (!quiet)
        log_warning("maildir: skipping non-regular entry " + dir_label + "/" +
                    log_escape(entry->d_name));
      continue;
    }
    if (out.size() >= limit) {
      if (!quiet)
        log_warning("maildir: more than " + std::to_string(limit) + " files in " + dir_label +
                    "; the rest wait for a later session");
      truncated = true;
      break;
    }
    const size_t len = std::strlen(entry->d_name);
    out.push_back(
        ListedName{static_cast<uint32_t>(arena.size()), static_cast<uint32_t>(len), in_new});
    arena.append(entry->d_name, len);
  }
  return {};
}

Status make_dirs(const std::string& path) {
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    const std::string prefix = path.substr(0, pos);
    if (!make_dir_at(AT_FDCWD, prefix.c_str())) return Error::from_errno("mkdir " + prefix);
  }
  if (!make_dir_at(AT_FDCWD, path.c_str())) return Error::from_errno("mkdir " + path);
  return {};
}

Result<UniqueFd> open_dir_at(int dir_fd, const char* path) {
  UniqueFd fd(::openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return Error::from_errno(std::string("open ") + path);
  return fd;
}

Result<UniqueFd> open_or_create_root(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) return fd;
  if (errno != ENOENT) return Error::from_errno("open");
  if (Status made = make_dirs(path); !made) return made.error();
  fd.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::from_errno("open");
  return fd;
}

Result<UniqueFd> open_or_create_subdir(int root_fd, const char* name) {
  auto dir = open_dir_at(root_fd, name);
  if (dir || dir.error().sys_errno != ENOENT) return dir;
  if (!make_dir_at(root_fd, name)) return Error::from_errno(std::string("mkdir ") + name);
  if (!make_dir_at(root_fd, "tmp")) return Error::from_errno("mkdir tmp");
  return open_dir_at(root_fd, name);
}

int rename_into_cur(int from_fd, const std::string& name, int cur_fd, const std::string& target) {
  if (::renameat2(from_fd, name.c_str(), cur_fd, target.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  // File systems without RENAME_NOREPLACE: link fails rather than replace.
  if (::linkat(from_fd, name.c_str(), cur_fd, target.c_str(), 0) != 0) return errno;
  ::unlinkat(from_fd, name.c_str(), 0);
  return 0;
}

Result<IndexEntry> measure_message(int dir_fd, const char* name, std::vector<char>& buf) {
  UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
  if (!fd) return Error::from_errno("open");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("fstat");
  if (!S_ISREG(st.st_mode)) return Error{"not a regular file", 0};
  CrlfCounter counter;
  // Maildir messages never change once delivered; a file that shrank
  // meanwhile ends the loop at its EOF.
  uint64_t left = st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
  while (left > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    const ssize_t n = ::read(fd.get(), buf.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("read");
    if (n == 0) break;
    counter.feed(buf.data(), static_cast<size_t>(n));
    left -= static_cast<uint64_t>(n);
  }
  return IndexEntry{counter.size(), counter.plain_sendable()};
}

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace pop3d::maildir
