#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <string>

#include "stats/session_metrics.hpp"
#include "stats/stats_process.hpp"

namespace pop3d {

class SessionMetricsTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(SessionMetricsTest);
  CPPUNIT_TEST(session_summary_is_counted);
  CPPUNIT_TEST(login_results_follow_the_outcome);
  CPPUNIT_TEST(refusals_and_handshakes_map_to_their_labels);
  CPPUNIT_TEST(helper_answers_map_to_their_labels);
  CPPUNIT_TEST(nothing_happens_without_a_table);
  CPPUNIT_TEST(stats_listen_forms_parse);
  CPPUNIT_TEST(bad_stats_listen_is_refused);
  CPPUNIT_TEST_SUITE_END();

  static MetricsTable make() {
    Result<MetricsTable> t = MetricsTable::create();
    CPPUNIT_ASSERT(t.ok());
    return std::move(*t);
  }

 public:
  void session_summary_is_counted() {
    MetricsTable t = make();
    SessionSummary s;
    s.end = "kicked by administrator";
    s.retrieved = 3;
    s.retrieved_bytes = 4096;
    s.deleted = 2;
    count_session(&t, s, std::chrono::seconds(2));
    s.end = "quit";
    count_session(&t, s, std::chrono::milliseconds(50));
    const MetricsSnapshot snap = t.snapshot();
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, snap.sessions[size_t(SessionEnd::kKicked)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, snap.sessions[size_t(SessionEnd::kQuit)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{6}, snap.retrieved_messages);
    CPPUNIT_ASSERT_EQUAL(uint64_t{8192}, snap.retrieved_octets);
    CPPUNIT_ASSERT_EQUAL(uint64_t{4}, snap.deleted_messages);
    const HistogramSnapshot& h = snap.histograms[size_t(HistogramKind::kSessionDuration)];
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, h.buckets[0]);  // <= 0.1 s
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, h.buckets[3]);  // <= 2.5 s
    CPPUNIT_ASSERT_EQUAL(uint64_t{2050000}, h.sum_micros);
  }

  void login_results_follow_the_outcome() {
    AuthOutcome o;
    o.status = AuthStatus::kOk;
    CPPUNIT_ASSERT(login_result_for(o) == LoginResult::kOk);
    o.status = AuthStatus::kBadPassword;
    CPPUNIT_ASSERT(login_result_for(o) == LoginResult::kWrongCredentials);
    o.status = AuthStatus::kUnknownUser;
    CPPUNIT_ASSERT(login_result_for(o) == LoginResult::kWrongCredentials);
    o.client_message = "[AUTH] Account disabled.";  // nologin after a right password
    CPPUNIT_ASSERT(login_result_for(o) == LoginResult::kRefusedByPolicy);
    o.status = AuthStatus::kTempFail;
    CPPUNIT_ASSERT(login_result_for(o) == LoginResult::kTempFail);

    MetricsTable t = make();
    const auto started = std::chrono::steady_clock::now();
    count_login(&t, "APOP", LoginResult::kOk, started);
    count_login(&t, "LOGIN", LoginResult::kMailboxUnavailable, started);
    count_login(&t, "XOAUTH2", LoginResult::kOk, started);  // no such method: not counted
    const MetricsSnapshot snap = t.snapshot();
    CPPUNIT_ASSERT_EQUAL(uint64_t{1},
                         snap.logins[size_t(LoginMethod::kApop)][size_t(LoginResult::kOk)]);
    CPPUNIT_ASSERT_EQUAL(
        uint64_t{1},
        snap.logins[size_t(LoginMethod::kAuthLogin)][size_t(LoginResult::kMailboxUnavailable)]);
    uint64_t timed = 0;
    for (uint64_t b : snap.histograms[size_t(HistogramKind::kLoginLatency)].buckets) timed += b;
    CPPUNIT_ASSERT_EQUAL(uint64_t{2}, timed);
  }

  void refusals_and_handshakes_map_to_their_labels() {
    MetricsTable t = make();
    count_refusal(&t, Refusal::kBlockedAddress);
    count_refusal(&t, Refusal::kAntiHammering);
    count_refusal(&t, Refusal::kTooManyConnections);
    count_refusal(&t, Refusal::kNone);  // not a refusal
    count_tls_handshake(&t, std::string("TLSv1.3"));
    count_tls_handshake(&t, std::nullopt);
    const MetricsSnapshot snap = t.snapshot();
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, snap.refusals[size_t(RefusalReason::kBlocked)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, snap.refusals[size_t(RefusalReason::kAntiHammering)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, snap.refusals[size_t(RefusalReason::kTooManyConnections)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, snap.refusals[size_t(RefusalReason::kTooManyFromAddress)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, snap.tls[size_t(TlsResult::kOk)][size_t(TlsVersion::kTls13)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1},
                         snap.tls[size_t(TlsResult::kFailed)][size_t(TlsVersion::kUnknown)]);
  }

  void helper_answers_map_to_their_labels() {
    MetricsTable t = make();
    count_helper_check(&t, AccountCheck::kOk);
    count_helper_check(&t, AccountCheck::kBadPassword);
    count_helper_check(&t, AccountCheck::kUnknownUser);
    count_helper_check(&t, AccountCheck::kLocked);
    count_helper_check(&t, AccountCheck::kRoot);
    count_helper_check(&t, AccountCheck::kTryLater);
    count_helper_check(&t, std::nullopt);  // the channel broke
    const MetricsSnapshot snap = t.snapshot();
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, snap.helper_checks[size_t(HelperCheckResult::kOk)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{2},
                         snap.helper_checks[size_t(HelperCheckResult::kWrongCredentials)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{2}, snap.helper_checks[size_t(HelperCheckResult::kRefused)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{2}, snap.helper_checks[size_t(HelperCheckResult::kFailed)]);
  }

  void nothing_happens_without_a_table() {
    SessionSummary s;
    s.end = "quit";
    count_session(nullptr, s, std::chrono::seconds(1));
    count_login(nullptr, "USER", LoginResult::kOk, std::chrono::steady_clock::now());
    count_refusal(nullptr, Refusal::kBlockedAddress);
    count_tls_handshake(nullptr, std::nullopt);
  }

  void stats_listen_forms_parse() {
    Result<StatsEndpoint> v4 = parse_stats_listen("127.0.0.1:9110");
    CPPUNIT_ASSERT(v4.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), v4->host);
    CPPUNIT_ASSERT_EQUAL(9110, v4->port);
    Result<StatsEndpoint> v6 = parse_stats_listen("[::1]:9110");
    CPPUNIT_ASSERT(v6.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("::1"), v6->host);
    Result<StatsEndpoint> name = parse_stats_listen("localhost:1");
    CPPUNIT_ASSERT(name.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("localhost"), name->host);
    CPPUNIT_ASSERT_EQUAL(1, name->port);
    // Off: nothing bound.
    Result<UniqueFd> off = open_stats_listener("");
    CPPUNIT_ASSERT(off.ok() && !off->valid());
  }

  void bad_stats_listen_is_refused() {
    for (const char* bad :
         {"127.0.0.1", ":9110", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+80",
          "127.0.0.1:12a", "::1:9110", "[::1]9110", "[::1]", "[127.0.0.1]:9110", "[::1]:"}) {
      Result<StatsEndpoint> r = parse_stats_listen(bad);
      CPPUNIT_ASSERT_MESSAGE(bad, !r.ok());
      CPPUNIT_ASSERT_MESSAGE(r.error().message, r.error().message.find("stats.listen") == 0);
    }
    CPPUNIT_ASSERT(!open_stats_listener("no-such-host.invalid:9110").ok());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SessionMetricsTest);

}  // namespace pop3d
