#include "util/table_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/unique_fd.hpp"

namespace pop3d {

Result<SharedMapping> create_table_file(const std::string& path, size_t size,
                                        std::optional<FileOwner> owner, const std::string& what) {
  ::unlink(path.c_str());
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Error::from_errno("cannot create " + what + " " + path);
  // Through the descriptor: the directory is the service user's, who could
  // swap the name for a link before a chown by path.
  if (owner && ::fchown(fd.get(), owner->uid, owner->gid) < 0) {
    return Error::from_errno("cannot hand " + what + " " + path + " to the service user");
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) < 0) {
    return Error::from_errno("cannot size " + what + " " + path);
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return Error::from_errno("cannot map " + what + " " + path);
  return SharedMapping(base, size);
}

Result<SharedMapping> open_table_file(const std::string& path, size_t header, size_t record,
                                      const std::string& what) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    return Error::from_errno("cannot open " + what + " " + path +
                             " (is pop3d running, and are you root or its user?)");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode) ||
      st.st_size <= static_cast<off_t>(header) ||
      (static_cast<size_t>(st.st_size) - header) % record != 0) {
    return Error{what + " " + path + " is not one pop3d made"};
  }
  const auto size = static_cast<size_t>(st.st_size);
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return Error::from_errno("cannot map " + what + " " + path);
  return SharedMapping(base, size);
}

}  // namespace pop3d
