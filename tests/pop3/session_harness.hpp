// A session under test: fakes wired into a SessionContext, a scripted
// memory pipe, and helpers to read the transcript back.
#pragma once

#include <cppunit/TestAssert.h>

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
  // Designated, and the fields not named keep their defaults, so a field
  // added to SessionContext later (connected_at) does not break every
  // session test.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
  SessionContext ctx{.settings = settings,
                     .users = users,
                     .store = store,
                     .policy = policy,
                     .tls = nullptr,
                     .client_address = "192.0.2.1",
                     .client_is_secure = false,
                     .hostname = "mail.example.org"};
#pragma GCC diagnostic pop

  SessionHarness() {
    settings.auth.failure_delay = Millis(0);  // the delay itself is not under test
    settings.pop3.plaintext_auth = PlaintextAuth::kAllow;
    ctx.client_address = "192.0.2.1";
    ctx.hostname = "mail.example.org";
  }

  // Sends each chunk as one packet, then EOF.
  SessionSummary run(const std::vector<std::string>& chunks, bool tls_transport = false) {
    require_hand_worked_sizes();
    for (const std::string& c : chunks) pipe->send(c);
    return run_session(ctx, std::make_unique<MemoryTransport>(pipe, tls_transport));
  }

  // Same, with a fixed APOP timestamp in the greeting.
  SessionSummary run_with_timestamp(const std::vector<std::string>& chunks,
                                    const std::string& timestamp) {
    require_hand_worked_sizes();
    for (const std::string& c : chunks) pipe->send(c);
    Pop3Session session(ctx, std::make_unique<MemoryTransport>(pipe), timestamp);
    return session.run();
  }

  // Every message a test puts in the store says its size (FakeMessage::size),
  // so no expectation comes from the rule under test.
  void require_hand_worked_sizes() const {
    for (const FakeMessage& m : store.messages)
      CPPUNIT_ASSERT_MESSAGE("message " + m.uidl + " has no hand-worked size", m.size.has_value());
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
