// Fuzz target: the Dovecot-style passwd-file parser. Every user it keeps
// must be findable under its own name, and the scheme helpers must accept
// whatever secret the file held (they only classify it here; verifying
// would let the input pick a crypt cost and time the run out). The extra
// fields each user got are then applied as a login would, from an IPv4
// and an IPv6 client: whatever they say, a user they block, or refuse for
// nologin or the client's address, never comes out logged in, and one that
// does keeps a mail location.
#include <cstdlib>

#include "auth/passwd_file.hpp"
#include "auth/password_scheme.hpp"
#include "auth/user_db.hpp"
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
    if (!entry.extra) continue;
    for (const char* client : {"192.0.2.1", "2001:db8::1"}) {
      AuthOutcome in;
      in.status = AuthStatus::kOk;
      in.user.name = entry.name;
      in.user.home = entry.home;
      in.user.maildir = "/var/mail/fuzz";
      in.user.extra = entry.extra;
      const AuthOutcome out = apply_extra_fields(in, client);
      const ExtraFields& f = *entry.extra;
      if (out.status == AuthStatus::kOk) {
        if (!f.blocked.empty() || f.nologin) std::abort();
        if (f.allow_nets && !f.allow_nets->contains(client)) std::abort();
        if (out.user.maildir.empty()) std::abort();
      } else if (!out.user.maildir.empty()) {
        std::abort();  // a refusal carries no record to log in with
      }
      if (out.client_message.size() > kMaxNologinReasonBytes + 16) std::abort();
    }
  }
  if (!table.typical_user.empty() && table.find(table.typical_user) == nullptr) std::abort();
  return 0;
}
