#include <cppunit/extensions/HelperMacros.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "stats/exposition.hpp"
#include "stats/metrics_table.hpp"

namespace pop3d {

class MetricsTableTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MetricsTableTest);
  CPPUNIT_TEST(counters_start_at_zero_and_count);
  CPPUNIT_TEST(forked_workers_add_to_the_same_counters);
  CPPUNIT_TEST(histogram_puts_observations_in_their_bucket);
  CPPUNIT_TEST(names_map_to_labels);
  CPPUNIT_TEST(hostile_bytes_are_read_as_numbers);
  CPPUNIT_TEST(pool_shape_is_what_the_master_published_within_bounds);
  CPPUNIT_TEST_SUITE_END();

  static MetricsTable make() {
    Result<MetricsTable> t = MetricsTable::create();
    CPPUNIT_ASSERT_MESSAGE(t ? "" : t.error().message, t.ok());
    return std::move(*t);
  }

 public:
  void counters_start_at_zero_and_count() {
    MetricsTable t = make();
    MetricsSnapshot s = t.snapshot();
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, s.sessions[0]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, s.retrieved_octets);
    t.count_session(SessionEnd::kQuit);
    t.count_session(SessionEnd::kQuit);
    t.count_session(SessionEnd::kTimeout);
    t.count_login(LoginMethod::kApop, LoginResult::kWrongCredentials);
    t.count_tls_handshake(TlsResult::kOk, TlsVersion::kTls13);
    t.count_retrieved(2, 3000);
    t.count_retrieved(1, 500);
    t.count_deleted(4);
    t.count_refusal(RefusalReason::kTooManyFromAddress);
    t.count_helper_check(HelperCheckResult::kRefused);
    s = t.snapshot();
    CPPUNIT_ASSERT_EQUAL(uint64_t{2}, s.sessions[size_t(SessionEnd::kQuit)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, s.sessions[size_t(SessionEnd::kTimeout)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, s.sessions[size_t(SessionEnd::kError)]);
    CPPUNIT_ASSERT_EQUAL(
        uint64_t{1}, s.logins[size_t(LoginMethod::kApop)][size_t(LoginResult::kWrongCredentials)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{0},
                         s.logins[size_t(LoginMethod::kApop)][size_t(LoginResult::kOk)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, s.tls[size_t(TlsResult::kOk)][size_t(TlsVersion::kTls13)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{3}, s.retrieved_messages);
    CPPUNIT_ASSERT_EQUAL(uint64_t{3500}, s.retrieved_octets);
    CPPUNIT_ASSERT_EQUAL(uint64_t{4}, s.deleted_messages);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, s.refusals[size_t(RefusalReason::kTooManyFromAddress)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, s.helper_checks[size_t(HelperCheckResult::kRefused)]);
  }

  // What the daemon relies on: the master maps, workers fork and count,
  // and the counts of all of them (and of the dead ones) add up.
  void forked_workers_add_to_the_same_counters() {
    MetricsTable t = make();
    constexpr int kWorkers = 4;
    constexpr int kEach = 20000;
    pid_t pids[kWorkers];
    for (pid_t& pid : pids) {
      pid = ::fork();
      CPPUNIT_ASSERT(pid >= 0);
      if (pid == 0) {
        for (int i = 0; i < kEach; ++i) {
          t.count_login(LoginMethod::kUserPass, LoginResult::kOk);
          t.count_retrieved(1, 10);
        }
        ::_exit(0);
      }
    }
    for (pid_t pid : pids) {
      int status = 0;
      CPPUNIT_ASSERT_EQUAL(pid, ::waitpid(pid, &status, 0));
      CPPUNIT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    const MetricsSnapshot s = t.snapshot();
    CPPUNIT_ASSERT_EQUAL(uint64_t{kWorkers * kEach},
                         s.logins[size_t(LoginMethod::kUserPass)][size_t(LoginResult::kOk)]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{kWorkers * kEach}, s.retrieved_messages);
    CPPUNIT_ASSERT_EQUAL(uint64_t{kWorkers * kEach * 10}, s.retrieved_octets);
  }

  void histogram_puts_observations_in_their_bucket() {
    using std::chrono::milliseconds;
    MetricsTable t = make();
    t.observe(HistogramKind::kLoginLatency, milliseconds(3));           // <= 0.005
    t.observe(HistogramKind::kLoginLatency, milliseconds(10));          // <= 0.01, on the bound
    t.observe(HistogramKind::kLoginLatency, milliseconds(2000));        // <= 2.5
    t.observe(HistogramKind::kLoginLatency, std::chrono::seconds(60));  // +Inf
    t.observe(HistogramKind::kSessionDuration, milliseconds(700));      // <= 1
    const MetricsSnapshot s = t.snapshot();
    const HistogramSnapshot& login = s.histograms[size_t(HistogramKind::kLoginLatency)];
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, login.buckets[0]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, login.buckets[1]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, login.buckets[2]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, login.buckets[8]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, login.buckets[kHistogramBuckets]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{62013000}, login.sum_micros);
    const HistogramSnapshot& session = s.histograms[size_t(HistogramKind::kSessionDuration)];
    CPPUNIT_ASSERT_EQUAL(uint64_t{1}, session.buckets[2]);
    CPPUNIT_ASSERT_EQUAL(uint64_t{700000}, session.sum_micros);
  }

  void names_map_to_labels() {
    CPPUNIT_ASSERT(session_end_from_summary("quit") == SessionEnd::kQuit);
    CPPUNIT_ASSERT(session_end_from_summary("too many errors") == SessionEnd::kTooManyErrors);
    CPPUNIT_ASSERT(session_end_from_summary("evicted") == SessionEnd::kEvicted);
    CPPUNIT_ASSERT(session_end_from_summary("error: read failed") == SessionEnd::kError);
    CPPUNIT_ASSERT(session_end_from_summary("") == SessionEnd::kError);
    CPPUNIT_ASSERT(login_method_from_name("USER") == LoginMethod::kUserPass);
    CPPUNIT_ASSERT(login_method_from_name("PLAIN") == LoginMethod::kAuthPlain);
    CPPUNIT_ASSERT(login_method_from_name("LOGIN") == LoginMethod::kAuthLogin);
    CPPUNIT_ASSERT(!login_method_from_name("CRAM-MD5"));
    CPPUNIT_ASSERT(tls_version_from_name("TLSv1.2") == TlsVersion::kTls12);
    CPPUNIT_ASSERT(tls_version_from_name("SSLv3") == TlsVersion::kUnknown);
  }

  // A subverted worker can write anything into the mapping: the reader
  // copies numbers and the page stays well-formed (buckets never go down,
  // _count is the +Inf bucket), with nothing read out of bounds.
  void hostile_bytes_are_read_as_numbers() {
    MetricsTable t = make();
    std::memset(t.mapping_for_test(), 0xff, t.mapping_size_for_test());
    const MetricsSnapshot s = t.snapshot();
    CPPUNIT_ASSERT_EQUAL(UINT64_MAX, s.sessions[0]);
    const std::string page =
        render_metrics(s, {}, ExpositionInfo{"1.0", 0}, ExpositionFormat::kPrometheusText);
    CPPUNIT_ASSERT(page.find("pop3d_login_duration_seconds_bucket{le=\"+Inf\"} "
                             "18446744073709551615\n") != std::string::npos);
    CPPUNIT_ASSERT(page.find("pop3d_login_duration_seconds_count 18446744073709551615\n") !=
                   std::string::npos);
    // Counting on from garbage wraps, as an unsigned number does; no crash.
    t.count_session(SessionEnd::kQuit);
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, t.snapshot().sessions[size_t(SessionEnd::kQuit)]);
  }

  void pool_shape_is_what_the_master_published_within_bounds() {
    MetricsTable t = make();
    t.publish_pool(PoolShape{200, 201, true});
    PoolShape p = t.pool(10001);
    CPPUNIT_ASSERT_EQUAL(uint64_t{200}, p.max_sessions);
    CPPUNIT_ASSERT_EQUAL(uint64_t{201}, p.workers);
    CPPUNIT_ASSERT(p.anti_hammering);
    t.publish_pool(PoolShape{7, 8, false});
    p = t.pool(10001);
    CPPUNIT_ASSERT_EQUAL(uint64_t{8}, p.workers);
    CPPUNIT_ASSERT(!p.anti_hammering);
    // Garbage from a worker: never more workers than the bound, never more
    // sessions than workers.
    std::memset(t.mapping_for_test(), 0xff, t.mapping_size_for_test());
    p = t.pool(10001);
    CPPUNIT_ASSERT_EQUAL(uint64_t{10001}, p.workers);
    CPPUNIT_ASSERT_EQUAL(uint64_t{10001}, p.max_sessions);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MetricsTableTest);

}  // namespace pop3d
