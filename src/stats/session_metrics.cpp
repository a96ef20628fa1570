#include "stats/session_metrics.hpp"

namespace pop3d {

void count_refusal(MetricsTable* metrics, Refusal refusal) {
  if (metrics == nullptr) return;
  switch (refusal) {
    case Refusal::kNone:
      return;
    case Refusal::kAntiHammering:
      return metrics->count_refusal(RefusalReason::kAntiHammering);
    case Refusal::kBlockedAddress:
      return metrics->count_refusal(RefusalReason::kBlocked);
    case Refusal::kTooManyConnections:
      return metrics->count_refusal(RefusalReason::kTooManyConnections);
    case Refusal::kTooManyFromAddress:
      return metrics->count_refusal(RefusalReason::kTooManyFromAddress);
  }
}

void count_session(MetricsTable* metrics, const SessionSummary& summary,
                   std::chrono::steady_clock::duration took) {
  if (metrics == nullptr) return;
  metrics->count_session(session_end_from_summary(summary.end));
  if (summary.retrieved > 0) metrics->count_retrieved(summary.retrieved, summary.retrieved_bytes);
  if (summary.deleted > 0) metrics->count_deleted(summary.deleted);
  metrics->observe(HistogramKind::kSessionDuration, took);
}

LoginResult login_result_for(const AuthOutcome& outcome) {
  switch (outcome.status) {
    case AuthStatus::kOk:
      return LoginResult::kOk;
    case AuthStatus::kUnknownUser:
    case AuthStatus::kBadPassword:
      // A refusal the client may be told about (nologin, allow_nets) comes
      // only after a right password.
      return outcome.client_message.empty() ? LoginResult::kWrongCredentials
                                            : LoginResult::kRefusedByPolicy;
    case AuthStatus::kTempFail:
      break;
  }
  return LoginResult::kTempFail;
}

void count_login(MetricsTable* metrics, std::string_view mechanism, LoginResult result,
                 std::chrono::steady_clock::time_point started) {
  if (metrics == nullptr) return;
  const std::optional<LoginMethod> method = login_method_from_name(mechanism);
  if (!method) return;
  metrics->count_login(*method, result);
  metrics->observe(HistogramKind::kLoginLatency, std::chrono::steady_clock::now() - started);
}

void count_tls_handshake(MetricsTable* metrics, const std::optional<std::string>& protocol) {
  if (metrics == nullptr) return;
  if (!protocol) return metrics->count_tls_handshake(TlsResult::kFailed, TlsVersion::kUnknown);
  metrics->count_tls_handshake(TlsResult::kOk, tls_version_from_name(*protocol));
}

void count_helper_check(MetricsTable* metrics, std::optional<AccountCheck> answer) {
  if (metrics == nullptr) return;
  HelperCheckResult result = HelperCheckResult::kFailed;
  if (answer) {
    switch (*answer) {
      case AccountCheck::kOk:
        result = HelperCheckResult::kOk;
        break;
      case AccountCheck::kUnknownUser:
      case AccountCheck::kBadPassword:
        result = HelperCheckResult::kWrongCredentials;
        break;
      case AccountCheck::kLocked:
      case AccountCheck::kAccountExpired:
      case AccountCheck::kPasswordExpired:
      case AccountCheck::kUidTooLow:
      case AccountCheck::kRoot:
      case AccountCheck::kNoMailLocation:
        result = HelperCheckResult::kRefused;
        break;
      case AccountCheck::kTempFail:
      case AccountCheck::kTryLater:
        result = HelperCheckResult::kFailed;
        break;
    }
  }
  metrics->count_helper_check(result);
}

}  // namespace pop3d
