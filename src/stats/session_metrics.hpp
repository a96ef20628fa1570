// The few calls the worker and the session make to count what happens
// (each a line at the point it happens), so that the mapping from their
// vocabulary (Refusal, SessionSummary, AuthStatus, the TLS transport) to
// the metrics' fixed labels lives here, in one place. Every function takes
// the table by pointer and does nothing without one (tests, tools).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "auth/system_users.hpp"
#include "auth/user_db.hpp"
#include "pop3/session.hpp"
#include "security/access_control.hpp"
#include "stats/metrics_table.hpp"

namespace pop3d {

void count_refusal(MetricsTable* metrics, Refusal refusal);
// The session's end, what it retrieved and deleted, and how long it took.
void count_session(MetricsTable* metrics, const SessionSummary& summary,
                   std::chrono::steady_clock::duration took);
// What a login's credentials check came to (for a right password, kOk;
// the maildrop decides then whether the login is ok, see finish_login).
LoginResult login_result_for(const AuthOutcome& outcome);
// A login command's result: `mechanism` as finish_login names it, and the
// time since the command arrived.
void count_login(MetricsTable* metrics, std::string_view mechanism, LoginResult result,
                 std::chrono::steady_clock::time_point started);
// A TLS handshake: the protocol it agreed on ("TLSv1.3"), or nullopt when
// it failed.
void count_tls_handshake(MetricsTable* metrics, const std::optional<std::string>& protocol);
// The privileged helper's answer to a credentials check; nullopt when the
// channel gave none.
void count_helper_check(MetricsTable* metrics, std::optional<AccountCheck> answer);

}  // namespace pop3d
