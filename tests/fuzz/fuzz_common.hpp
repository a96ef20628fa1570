// Shared by the libFuzzer targets: the log goes to /dev/null so a run's
// output is only what libFuzzer says, and nothing is written anywhere else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "log/logger.hpp"

namespace pop3d::fuzz {

inline void quiet_log() {
  static const bool done = [] {
    (void)Logger::instance().configure("/dev/null", LogLevel::kDebug);
    return true;
  }();
  (void)done;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace pop3d::fuzz
