// Where Redis listens, as general.shared_state.redis gives it:
// "host:port", "[IPv6]:port" or "unix:/path/to/socket".
#pragma once

#include <string>

#include "util/result.hpp"

namespace pop3d {

struct RedisEndpoint {
  std::string host;  // empty for a Unix socket
  int port = 0;
  std::string unix_path;

  bool is_unix() const { return !unix_path.empty(); }
  // As the setting wrote it, for log lines.
  std::string text;

  // The error says what is wrong, without the setting's name.
  static Result<RedisEndpoint> parse(const std::string& text);
};

}  // namespace pop3d
