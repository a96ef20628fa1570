// The files behind the shared tables that the administrator's commands
// open while the daemon runs (pop3d.hammer, pop3d.sessions): made by the
// master next to its pid file, handed to the service user, and mapped by
// every process that may open them.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>

#include "util/result.hpp"
#include "util/shared_mapping.hpp"

namespace pop3d {

struct FileOwner {
  uid_t uid;
  gid_t gid;
};

// Makes `path` anew (an old file is removed first, a link is never
// followed), mode 0600, handed to `owner`, `size` zero bytes, and maps it
// shared. `what` names the table in errors ("the session table").
Result<SharedMapping> create_table_file(const std::string& path, size_t size,
                                        std::optional<FileOwner> owner, const std::string& what);

// Maps an existing table file, which must be a regular file of `header`
// bytes followed by one or more records of `record` bytes. The mapping's
// size is the file's: callers take their record count from it, never from
// the bytes inside.
Result<SharedMapping> open_table_file(const std::string& path, size_t header, size_t record,
                                      const std::string& what);

}  // namespace pop3d
