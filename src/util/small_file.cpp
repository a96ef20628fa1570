#include "util/small_file.hpp"

#include <unistd.h>

#include <cerrno>

namespace pop3d {

Result<std::string> read_small(int fd, size_t cap, const std::string& what) {
  std::string text;
  char buf[64 * 1024];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("read " + what);
    }
    if (n == 0) return text;
    if (text.size() + static_cast<size_t>(n) > cap) {
      return Error{what + " is larger than " + std::to_string(cap) + " bytes", 0};
    }
    text.append(buf, static_cast<size_t>(n));
  }
}

Status write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("write " + what);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace pop3d
