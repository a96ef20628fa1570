#include "mailstore/maildir_quota.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "mailstore/maildir_name.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

bool maildir_quota_kept(int root_fd) {
  struct stat st;
  return ::fstatat(root_fd, kMaildirSizeFile, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

std::optional<uint64_t> maildir_quota_size(int dir_fd, std::string_view file_name) {
  if (auto s = maildir_file_size_field(maildir_base_name(file_name))) return s;
  const std::string name(file_name);
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
  return st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::string maildir_quota_removal_line(uint64_t bytes, uint64_t count) {
  return "-" + std::to_string(bytes) + " -" + std::to_string(count) + "\n";
}

Status maildir_quota_record_removal(int root_fd, uint64_t bytes, uint64_t count) {
  if (count == 0) return {};
  // No O_CREAT: a missing file stays missing (a new one would hold only a
  // negative line and no quota). O_NONBLOCK keeps a FIFO planted under the
  // name from blocking the commit; O_NOFOLLOW keeps the write in the Maildir.
  UniqueFd fd(::openat(root_fd, kMaildirSizeFile,
                       O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT) return {};
    return Error::from_errno(std::string("open ") + kMaildirSizeFile);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0)
    return Error::from_errno(std::string("fstat ") + kMaildirSizeFile);
  if (!S_ISREG(st.st_mode))
    return Error{std::string(kMaildirSizeFile) + " is not a regular file", 0};
  const std::string line = maildir_quota_removal_line(bytes, count);
  ssize_t n;
  do {
    n = ::write(fd.get(), line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno(std::string("append to ") + kMaildirSizeFile);
  // A part of a line would corrupt every later sum; a regular file takes a
  // write this small whole or fails it, so this is only a guard.
  if (static_cast<size_t>(n) != line.size())
    return Error{"short append to " + std::string(kMaildirSizeFile), 0};
  return {};
}

}  // namespace pop3d
