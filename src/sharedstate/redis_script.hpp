// What the Redis back-ends share: the command that runs a Lua script, and
// the token that tells one session's entry from any other.
#pragma once

#include <string>
#include <vector>

namespace pop3d {

// EVAL of `body` on one key. Plain EVAL, as for the anti-hammering
// scripts: they are small, and EVALSHA would need a NOSCRIPT round trip
// after every Redis restart.
std::vector<std::string> eval_command(const char* body, const std::string& key,
                                      const std::vector<std::string>& args);

// Random hex, different for every session on any node after any restart
// (pids are reused).
std::string session_token();

}  // namespace pop3d
