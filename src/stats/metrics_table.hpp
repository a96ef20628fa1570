// MetricsTable: the daemon's counters for Prometheus, in a shared anonymous
// mapping that the master creates before it forks. Workers add to them with
// relaxed atomic operations: never a lock on the session path, and a worker
// that dies mid-update leaves nothing to repair. The counters live as long
// as the master's mapping, so they survive worker restarts and reset only
// with the master.
//
// Every worker can write every byte of the mapping, so the stats process
// reads it only as numbers: the layout is fixed at compile time, its size
// is checked once against the size this process mapped, and no length,
// index or pointer is ever taken from the shared bytes.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "util/result.hpp"
#include "util/shared_mapping.hpp"

namespace pop3d {

// How a session ended (SessionSummary::end, see src/pop3/session.hpp).
enum class SessionEnd : uint8_t {
  kQuit,
  kTimeout,
  kDisconnect,
  kTooManyErrors,
  kBlocked,
  kEvicted,
  kKicked,     // pop3d --kick
  kTlsFailed,  // the implicit-TLS handshake failed: no POP3 at all
  kError,      // "error: ...", and anything not named above
  kCount
};
// "quit" -> kQuit ...; anything unknown -> kError.
SessionEnd session_end_from_summary(std::string_view end);

// The AUTHORIZATION commands that check a password (src/pop3/authorization.cpp).
enum class LoginMethod : uint8_t { kUserPass, kApop, kAuthPlain, kAuthLogin, kCount };
// "USER", "APOP", "PLAIN", "LOGIN" as finish_login names them; nullopt else.
std::optional<LoginMethod> login_method_from_name(std::string_view mechanism);

enum class LoginResult : uint8_t {
  kOk,
  kWrongCredentials,    // unknown user or wrong password (one answer for both)
  kRefusedByPolicy,     // right password, refused by an extra field (nologin, allow_nets)
  kTempFail,            // the user database could not answer
  kMailboxUnavailable,  // right password, but the maildrop is locked or cannot be opened
  kCount
};

enum class TlsResult : uint8_t { kOk, kFailed, kCount };
enum class TlsVersion : uint8_t { kTls10, kTls11, kTls12, kTls13, kUnknown, kCount };
// SSL_get_version()'s names ("TLSv1.3"); kUnknown for anything else.
TlsVersion tls_version_from_name(std::string_view name);

// Clients turned away at connect (security/access_control.hpp Refusal).
enum class RefusalReason : uint8_t {
  kBlocked,
  kAntiHammering,
  kTooManyConnections,
  kTooManyFromAddress,
  kCount
};

// Answers of the privileged helper to credential checks (system users).
enum class HelperCheckResult : uint8_t {
  kOk,
  kWrongCredentials,  // unknown user or wrong password
  kRefused,           // locked, expired, uid too low, root, no mail location
  kFailed,            // temporary failure, rate limit, or the channel broke
  kCount
};

enum class HistogramKind : uint8_t { kLoginLatency, kSessionDuration, kCount };

template <class E>
constexpr size_t count_of() {
  return static_cast<size_t>(E::kCount);
}

// Bucket upper bounds in seconds. Login latency is dominated by the hash
// (argon2, crypt) and auth.failure_delay; sessions run from a second (a
// poll that finds nothing) to the idle time-out and beyond.
inline constexpr size_t kHistogramBuckets = 11;
inline constexpr std::array<double, kHistogramBuckets> kLoginLatencyBounds = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
inline constexpr std::array<double, kHistogramBuckets> kSessionDurationBounds = {
    0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800};
const std::array<double, kHistogramBuckets>& histogram_bounds(HistogramKind kind);

// What the pool looks like now, as the master last published it (at start
// and at each reload), for the gauges of the stats process, which was
// forked earlier and keeps the settings it had then.
struct PoolShape {
  uint64_t max_sessions = 0;    // pop3.max_connections
  uint64_t workers = 0;         // the pool: max_sessions plus the spare ones
  bool anti_hammering = false;  // pop3.anti_hammering
};

// A copy of every counter, taken by the stats process: plain numbers.
struct HistogramSnapshot {
  // Observations per bucket (not cumulative); the last one is +Inf.
  std::array<uint64_t, kHistogramBuckets + 1> buckets{};
  uint64_t sum_micros = 0;
};

struct MetricsSnapshot {
  std::array<uint64_t, count_of<SessionEnd>()> sessions{};
  std::array<std::array<uint64_t, count_of<LoginResult>()>, count_of<LoginMethod>()> logins{};
  std::array<std::array<uint64_t, count_of<TlsVersion>()>, count_of<TlsResult>()> tls{};
  uint64_t retrieved_messages = 0;
  uint64_t retrieved_octets = 0;
  uint64_t deleted_messages = 0;
  std::array<uint64_t, count_of<RefusalReason>()> refusals{};
  std::array<uint64_t, count_of<HelperCheckResult>()> helper_checks{};
  std::array<HistogramSnapshot, count_of<HistogramKind>()> histograms{};
};

class MetricsTable {
 public:
  // Maps the counters, all zero. Called by the master before the fork.
  static Result<MetricsTable> create();

  MetricsTable(MetricsTable&&) = default;
  MetricsTable& operator=(MetricsTable&&) = default;

  // The workers' side: each one relaxed atomic add.
  void count_session(SessionEnd end);
  void count_login(LoginMethod method, LoginResult result);
  void count_tls_handshake(TlsResult result, TlsVersion version);
  void count_retrieved(uint64_t messages, uint64_t octets);
  void count_deleted(uint64_t messages);
  void count_refusal(RefusalReason reason);
  void count_helper_check(HelperCheckResult result);
  void observe(HistogramKind kind, std::chrono::steady_clock::duration took);

  // The master's side, at start and after each reload.
  void publish_pool(const PoolShape& pool);
  // The stats process's side: every counter, read as a number.
  MetricsSnapshot snapshot() const;
  // The last shape published, each figure cut to `max_workers` (any worker
  // can write the shared bytes).
  PoolShape pool(uint64_t max_workers) const;

  // When the master made the table (counters count from then), in seconds
  // since the epoch; this process's copy, not the shared bytes.
  int64_t created_at() const { return created_at_; }

  // The layout of the mapping (defined in the .cpp file).
  struct Layout;

  // For the tests that play a subverted worker.
  void* mapping_for_test() const { return mapping_.get(); }
  size_t mapping_size_for_test() const { return mapping_.size(); }

 private:
  MetricsTable(SharedMapping mapping, Layout* layout, int64_t created_at)
      : mapping_(std::move(mapping)), layout_(layout), created_at_(created_at) {}

  SharedMapping mapping_;
  Layout* layout_ = nullptr;  // inside mapping_, checked against its size at create()
  int64_t created_at_ = 0;
};

}  // namespace pop3d
