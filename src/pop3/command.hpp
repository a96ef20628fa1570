// The POP3 command line grammar (RFC 1939 3, RFC 2449 3): a keyword,
// matched case-insensitively, and arguments separated by single spaces.
// Parsing is strict so that what the session acts on is never a guess.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pop3d {

struct Command {
  std::string name;                    // the keyword, upper-cased
  std::vector<std::string_view> args;  // views into the parsed line
  // Everything after the first space, unsplit: PASS takes it whole because
  // a password may contain spaces (RFC 1939 7).
  std::string_view rest;
  // An argument was empty (two spaces in a row, or a trailing space);
  // commands that split their arguments refuse the line.
  bool empty_argument = false;
};

// nullopt when the line has no keyword, or a keyword with anything but
// letters in it; the caller answers "-ERR" and counts a bad command.
std::optional<Command> parse_command(std::string_view line);

// A decimal number made of digits only (no sign, no spaces), at most `max`.
// nullopt for anything else, including values that would overflow.
std::optional<uint64_t> parse_number(std::string_view text, uint64_t max);

}  // namespace pop3d
