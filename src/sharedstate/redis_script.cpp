#include "sharedstate/redis_script.hpp"

#include <openssl/rand.h>

#include <chrono>
#include <cstdint>

#include "util/hex.hpp"

namespace pop3d {

namespace {
constexpr size_t kTokenBytes = 8;
}  // namespace

std::vector<std::string> eval_command(const char* body, const std::string& key,
                                      const std::vector<std::string>& args) {
  std::vector<std::string> argv{"EVAL", body, "1", key};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string session_token() {
  unsigned char bytes[kTokenBytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // Without the pool's randomness, time and pid still differ between
    // sessions; the token only keeps entries apart.
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    for (size_t i = 0; i < sizeof bytes; ++i) {
      bytes[i] = static_cast<unsigned char>(static_cast<uint64_t>(t) >> (8 * i));
    }
  }
  return hex_lower({reinterpret_cast<const char*>(bytes), sizeof bytes});
}

}  // namespace pop3d
