// Fuzz target: the whole POP3 session state machine, from the greeting to
// the end, over in-memory transports with the fake user database, mail
// store and STLS upgrader of the session tests. Both states are reachable:
// the seeds log in (USER/PASS, AUTH PLAIN and LOGIN, APOP against the fixed
// timestamp below) and then LIST/UIDL/RETR/TOP/DELE/RSET/QUIT.
//
// Input layout: the first byte chooses the options (bit 0: STLS offered,
// bit 1: plaintext logins allowed without TLS, bit 2: the session starts on
// TLS, bit 3: the STLS handshake fails, bit 4: the commit at QUIT fails,
// bit 5: a maildrop read fails). The rest is split at 0xFF bytes into
// chunks, each delivered by one read: a chunk that starts with 0xFE goes to
// the TLS side (what the client sends after STLS), a chunk that is exactly
// 0xFD is a read time-out, anything else goes to the plaintext side.
#include <cstdlib>

#include "../pop3/session_fakes.hpp"
#include "fuzz_common.hpp"
#include "pop3/pop3_session.hpp"

using namespace pop3d;

namespace {

constexpr std::string_view kTimestamp = "<1896.697170952@dbc.mtview.ca.us>";

struct Options {
  bool stls, allow_plaintext, start_tls, tls_fails, commit_fails, read_fails;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 65536) return 0;
  fuzz::quiet_log();
  const uint8_t o = data[0];
  const Options opt{(o & 1) != 0, (o & 2) != 0,  (o & 4) != 0,
                    (o & 8) != 0, (o & 16) != 0, (o & 32) != 0};

  Settings settings;
  settings.auth.failure_delay = Millis(0);
  settings.pop3.plaintext_auth =
      opt.allow_plaintext ? PlaintextAuth::kAllow : PlaintextAuth::kTlsOnly;
  FakeUserDb users;
  users.apop = true;
  FakeMailStore store;
  store.messages.push_back({"", "uid-empty"});
  store.messages.push_back({".\r\n..\r\n.x\nno newline at end", "uid-dots"});
  store.messages.push_back({"gone\n", "uid-vanished", opt.read_fails, false});
  store.messages.push_back({"unreadable\n", "uid-unreadable", false, opt.read_fails});
  store.record->fail_commit = opt.commit_fails;
  FakePolicy policy;
  FakeTls tls;
  tls.fail = opt.tls_fails;
  SessionContext ctx{
      settings,          users, store, policy, opt.stls ? &tls : nullptr, "192.0.2.1", false,
      "mail.example.org"};

  auto pipe = std::make_shared<MemoryPipe>();
  const std::string_view rest = fuzz::as_text(data + 1, size - 1);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('\xff', start);
    if (end == std::string_view::npos) end = rest.size();
    std::string_view chunk = rest.substr(start, end - start);
    if (chunk == "\xfd") {
      pipe->timeout();
    } else if (!chunk.empty() && chunk[0] == '\xfe') {
      tls.pipe->send(std::string(chunk.substr(1)));
    } else if (!chunk.empty()) {
      pipe->send(std::string(chunk));
    }
    start = end + 1;
  }

  Pop3Session session(ctx, std::make_unique<MemoryTransport>(pipe, opt.start_tls),
                      std::string(kTimestamp));
  const SessionSummary summary = session.run();
  if (summary.end.empty()) std::abort();
  // Nothing is deleted unless the session reached QUIT in TRANSACTION.
  if (store.record->commits > 1) std::abort();
  if (store.record->commits == 1 && summary.end != "quit") std::abort();
  return 0;
}
