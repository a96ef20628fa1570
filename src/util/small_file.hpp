// Whole reads and writes of small files (lock files, uid lists), with the
// EINTR and short-count loops written once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace pop3d {

// Reads `fd` to its end; an Error naming `what` when it holds more than
// `cap` bytes, so a file that never ends cannot exhaust memory.
Result<std::string> read_small(int fd, size_t cap, const std::string& what);

// Writes all of `data`, across short writes and EINTR.
Status write_all(int fd, std::string_view data, const std::string& what);

}  // namespace pop3d
