// PidFile: general.pid_file, written by the master once it has its final
// pid, and removed by the same process when it exits. Its folder is made
// owned by the service user so the unprivileged master can remove it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "util/result.hpp"

namespace pop3d {

class PidFile {
 public:
  // Refuses when the file names a live process (another pop3d runs).
  static Result<PidFile> create(const std::string& path, std::optional<uid_t> owner,
                                std::optional<gid_t> group);
  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&&) = delete;
  PidFile(const PidFile&) = delete;
  ~PidFile();

  // Reads the pid in `path`, when there is a valid one.
  static std::optional<pid_t> read(const std::string& path);

 private:
  PidFile(std::string path, pid_t owner_pid) : path_(std::move(path)), owner_pid_(owner_pid) {}
  std::string path_;
  pid_t owner_pid_ = 0;  // only this process removes the file (not forked workers)
};

}  // namespace pop3d
