// Fuzz target: the Dovecot-style passwd-file parser. Every user it keeps
// must be findable under its own name, and the scheme helpers must accept
// whatever secret the file held (they only classify it here; verifying
// would let the input pick a crypt cost and time the run out).
#include <cstdlib>

#include "auth/passwd_file.hpp"
#include "auth/password_scheme.hpp"
#include "fuzz_common.hpp"

using namespace pop3d;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::quiet_log();
  const PasswdTable table = parse_passwd_file(fuzz::as_text(data, size), "fuzz.passwd");
  for (const auto& [name, entry] : table.users) {
    if (table.find(name) != &entry) std::abort();
    if (name.size() > kMaxUserNameBytes) std::abort();
    const std::string_view secret = entry.secret.view();
    (void)parse_secret(secret);
    (void)verification_cost_class(secret);
    if (is_plaintext_recoverable(secret)) (void)plaintext_secret(secret);
  }
  if (!table.typical_user.empty() && table.find(table.typical_user) == nullptr) std::abort();
  return 0;
}
