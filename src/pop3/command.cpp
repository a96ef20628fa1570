#include "pop3/command.hpp"

namespace pop3d {

namespace {

bool is_letter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

char to_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

}  // namespace

std::optional<Command> parse_command(std::string_view line) {
  Command cmd;
  const size_t space = line.find(' ');
  const std::string_view name = line.substr(0, space);
  if (name.empty()) return std::nullopt;
  for (char c : name) {
    if (!is_letter(c)) return std::nullopt;
    cmd.name.push_back(to_upper(c));
  }
  if (space == std::string_view::npos) return cmd;

  cmd.rest = line.substr(space + 1);
  std::string_view rest = cmd.rest;
  while (true) {
    const size_t next = rest.find(' ');
    const std::string_view arg = rest.substr(0, next);
    if (arg.empty()) cmd.empty_argument = true;
    cmd.args.push_back(arg);
    if (next == std::string_view::npos) break;
    rest.remove_prefix(next + 1);
  }
  return cmd;
}

std::optional<uint64_t> parse_number(std::string_view text, uint64_t max) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    // Checked before multiplying, so no input can wrap around.
    if (digit > max || value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace pop3d
