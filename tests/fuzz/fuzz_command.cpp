// Fuzz target: the command line grammar (parse_command, parse_number) and
// the strict base64 decoder the SASL exchanges use. Beyond "no crash", it
// checks the parsers' own promises: an accepted number is within its bound,
// an accepted command has an upper-case letters-only keyword, and decoding
// what was encoded gives the bytes back.
#include <cstdlib>

#include "fuzz_common.hpp"
#include "pop3/command.hpp"
#include "util/base64.hpp"

using namespace pop3d;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);

  if (auto cmd = parse_command(text)) {
    if (cmd->name.empty()) std::abort();
    for (char c : cmd->name) {
      if (c < 'A' || c > 'Z') std::abort();
    }
    for (std::string_view arg : cmd->args) {
      // Every argument is a view into the line.
      if (arg.data() < text.data() || arg.data() + arg.size() > text.data() + text.size()) {
        std::abort();
      }
      (void)parse_number(arg, 99999);
    }
  }

  const uint64_t max = size > 0 ? (uint64_t{1} << (data[0] % 64)) : 0;
  if (auto n = parse_number(text, max)) {
    if (*n > max) std::abort();
  }

  if (auto decoded = base64_decode(text)) {
    // What was accepted is a whole number of quanta, and its bytes survive a
    // round trip. (Non-zero bits after the last byte, as in "dA5=", are
    // accepted, as RFC 4648 3.5 allows; they cannot change the bytes.)
    if (text.size() % 4 != 0) std::abort();
    if (base64_decode(base64_encode(*decoded)) != decoded) std::abort();
  }
  if (base64_decode(base64_encode(text)) != std::string(text)) std::abort();
  return 0;
}
