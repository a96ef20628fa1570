// Session: one POP3 conversation (RFC 1939, 2449, 5034) over a Transport,
// from the greeting to the end. A worker process builds one per accepted
// connection and logs the summary it returns.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "auth/user_db.hpp"
#include "config/settings.hpp"
#include "mailstore/mail_store.hpp"
#include "net/transport.hpp"
#include "stats/metrics_table.hpp"

namespace pop3d {

// Decisions the session asks of the access-control layer (anti-hammering and
// the like). The default allows everything.
class SessionPolicy {
 public:
  virtual ~SessionPolicy() = default;
  // Checked before every command: true ends the session with "-ERR".
  virtual bool client_blocked() { return false; }
  virtual void login_failed() {}
  virtual void login_succeeded() {}
  // The client is in TRANSACTION state (credentials right and maildrop
  // open) as `user`: from here on its connection slot is never given to a
  // newcomer.
  virtual void logged_in(const std::string& user) { (void)user; }
  // `octets` more went to the client (for `pop3d --who`).
  virtual void sent(size_t octets) { (void)octets; }
};

// Upgrades the session's transport to TLS for STLS; null when STLS is not
// available.
class TlsUpgrader {
 public:
  virtual ~TlsUpgrader() = default;
  // Runs the server side of the handshake on the connection under
  // `plain`; returns the TLS transport, or null when the handshake failed.
  virtual std::unique_ptr<Transport> upgrade(Transport& plain) = 0;
};

struct SessionContext {
  const Settings& settings;
  UserDb& users;
  MailStore& store;
  SessionPolicy& policy;
  TlsUpgrader* tls = nullptr;     // STLS offered when set and not yet on TLS
  std::string client_address;     // "192.0.2.1" or "2001:db8::1"
  bool client_is_secure = false;  // in pop3.secure_networks, or TLS ended at a trusted proxy
  std::string hostname;           // for the greeting and the APOP timestamp
  // Logins are counted here when set.
  MetricsTable* metrics = nullptr;
};

struct SessionSummary {
  std::string user;  // empty when nobody logged in
  unsigned retrieved = 0;
  uint64_t retrieved_bytes = 0;
  unsigned deleted = 0;
  uint64_t deleted_bytes = 0;
  // How it ended: "quit", "timeout", "disconnect", "too many errors",
  // "blocked", "error: ...".
  std::string end;
};

// Runs the whole session; returns when it is over. The transport is owned
// by the caller (it may be replaced internally after STLS).
SessionSummary run_session(SessionContext& context, std::unique_ptr<Transport> transport);

}  // namespace pop3d
