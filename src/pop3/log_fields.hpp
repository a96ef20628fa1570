// Fields of the session's log lines. Their format is read by machines (the
// fail2ban filter in etc/fail2ban matches "user=<...>, method=..., rip=..."),
// so a client-chosen name must not be able to end its field early: besides
// what log_escape() does, the angle brackets are escaped too.
#pragma once

#include <string>
#include <string_view>

#include "log/logger.hpp"

namespace pop3d {

// A client-supplied string for inside "<...>" in a log line.
inline std::string log_bracketed(std::string_view s) {
  std::string out;
  for (char c : log_escape(s)) {
    if (c == '<') {
      out += "\\x3c";
    } else if (c == '>') {
      out += "\\x3e";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// "user=<name>"
inline std::string log_user(std::string_view name) {
  return "user=<" + log_bracketed(name) + ">";
}

}  // namespace pop3d
