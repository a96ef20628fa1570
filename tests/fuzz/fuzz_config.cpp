// Fuzz target: the config file loader (libconfig syntax, then every
// setting's type, range and cross-checks). Whatever the text, the loader
// returns settings or an error; it must not crash or throw. Settings it
// accepts must survive print_config -> load again.
#include <cstdlib>
#include <string>

#include "config/config.hpp"
#include "fuzz_common.hpp"

using namespace pop3d;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  fuzz::quiet_log();
  const std::string text(fuzz::as_text(data, size));
  Result<LoadedSettings> loaded = load_settings_from_string(text, "fuzz.conf", {});
  if (loaded) {
    const std::string printed = print_config(loaded->settings);
    Result<LoadedSettings> again = load_settings_from_string(printed, "printed.conf", {});
    if (!again) std::abort();
  }
  return 0;
}
