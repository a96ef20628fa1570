// A session under test: fakes wired into a SessionContext, a scripted
// memory pipe, and helpers to read the transcript back.
#pragma once

#include <string>
#include <vector>

#include "pop3/pop3_session.hpp"
#include "pop3/session.hpp"
#include "session_fakes.hpp"

namespace pop3d {

struct SessionHarness {
  Settings settings;
  FakeUserDb users;
  FakeMailStore store;
  FakePolicy policy;
  FakeTls tls;
  std::shared_ptr<MemoryPipe> pipe = std::make_shared<MemoryPipe>();
  SessionContext ctx{settings, users,       store, policy,
                     nullptr,  "192.0.2.1", false, "mail.example.org"};

  SessionHarness() {
    settings.auth.failure_delay = Millis(0);  // the delay itself is not under test
    settings.pop3.plaintext_auth = PlaintextAuth::kAllow;
    ctx.client_address = "192.0.2.1";
    ctx.hostname = "mail.example.org";
  }

  // Sends each chunk as one packet, then EOF.
  SessionSummary run(const std::vector<std::string>& chunks, bool tls_transport = false) {
    for (const std::string& c : chunks) pipe->send(c);
    return run_session(ctx, std::make_unique<MemoryTransport>(pipe, tls_transport));
  }

  // Same, with a fixed APOP timestamp in the greeting.
  SessionSummary run_with_timestamp(const std::vector<std::string>& chunks,
                                    const std::string& timestamp) {
    for (const std::string& c : chunks) pipe->send(c);
    Pop3Session session(ctx, std::make_unique<MemoryTransport>(pipe), timestamp);
    return session.run();
  }

  // The transcript without the greeting.
  std::string after_greeting() const {
    const size_t eol = pipe->output.find("\r\n");
    return eol == std::string::npos ? std::string() : pipe->output.substr(eol + 2);
  }
};

inline const std::string kGreeting = "+OK pop3d ready.\r\n";
inline const std::string kLogin = "USER alice\r\nPASS wonderland\r\n";
inline const std::string kLoggedIn = "+OK\r\n+OK Logged in.\r\n";

}  // namespace pop3d
