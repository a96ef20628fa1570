#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "stats/exposition.hpp"

namespace pop3d {

namespace {

MetricsSnapshot sample_snapshot() {
  MetricsSnapshot s;
  s.sessions[size_t(SessionEnd::kQuit)] = 7;
  s.logins[size_t(LoginMethod::kUserPass)][size_t(LoginResult::kOk)] = 5;
  s.logins[size_t(LoginMethod::kAuthPlain)][size_t(LoginResult::kRefusedByPolicy)] = 2;
  s.tls[size_t(TlsResult::kFailed)][size_t(TlsVersion::kUnknown)] = 3;
  s.retrieved_messages = 11;
  s.retrieved_octets = 123456;
  s.deleted_messages = 4;
  s.refusals[size_t(RefusalReason::kAntiHammering)] = 9;
  s.helper_checks[size_t(HelperCheckResult::kOk)] = 1;
  HistogramSnapshot& h = s.histograms[size_t(HistogramKind::kLoginLatency)];
  h.buckets[0] = 2;
  h.buckets[3] = 1;
  h.buckets[kHistogramBuckets] = 1;
  h.sum_micros = 12500000;  // 12.5 s
  return s;
}

ScrapeGauges sample_gauges() {
  ScrapeGauges g;
  g.anti_hammering_blocks = 3;
  g.workers_busy = 2;
  g.workers_idle = 6;
  g.workers_spare = 92;
  return g;
}

std::string render(ExpositionFormat f, const ScrapeGauges& g = sample_gauges()) {
  return render_metrics(sample_snapshot(), g, ExpositionInfo{"1.2.3", 1700000000}, f);
}

bool has(const std::string& page, const std::string& line) {
  return page.find(line) != std::string::npos;
}

// Each sample's family has its # HELP and # TYPE lines before it.
void assert_every_sample_has_help_and_type(const std::string& page, bool om) {
  std::vector<std::string> helped, typed;
  size_t pos = 0;
  while (pos < page.size()) {
    const size_t nl = page.find('\n', pos);
    CPPUNIT_ASSERT_MESSAGE("the page ends with a newline", nl != std::string::npos);
    const std::string line = page.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.rfind("# HELP ", 0) == 0) {
      helped.push_back(line.substr(7, line.find(' ', 7) - 7));
    } else if (line.rfind("# TYPE ", 0) == 0) {
      typed.push_back(line.substr(7, line.find(' ', 7) - 7));
    } else if (line == "# EOF") {
      CPPUNIT_ASSERT(om);
      CPPUNIT_ASSERT_EQUAL(page.size(), pos);
    } else {
      CPPUNIT_ASSERT_MESSAGE(line, !line.empty() && line[0] != '#');
      const std::string name = line.substr(0, line.find_first_of("{ "));
      CPPUNIT_ASSERT_MESSAGE(line, !typed.empty() && typed.back() == helped.back());
      const std::string& family = typed.back();
      CPPUNIT_ASSERT_MESSAGE(line + " (family " + family + ")", name.rfind(family, 0) == 0);
    }
  }
}

// The path of `program` on $PATH, or "".
std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// Runs `promtool check metrics` with `page` on its standard input; returns
// its exit status and what it printed (both streams).
int promtool_check(const std::string& promtool, const std::string& page, std::string& output) {
  char in_path[] = "/tmp/pop3d-metrics-XXXXXX";
  const int in_fd = ::mkstemp(in_path);
  CPPUNIT_ASSERT(in_fd >= 0);
  CPPUNIT_ASSERT_EQUAL(ssize_t(page.size()), ::write(in_fd, page.data(), page.size()));
  ::lseek(in_fd, 0, SEEK_SET);
  int pipe_fds[2];
  CPPUNIT_ASSERT_EQUAL(0, ::pipe(pipe_fds));
  const pid_t pid = ::fork();
  CPPUNIT_ASSERT(pid >= 0);
  if (pid == 0) {
    ::dup2(in_fd, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::execl(promtool.c_str(), "promtool", "check", "metrics", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  ::close(in_fd);
  ::unlink(in_path);
  char buf[4096];
  ssize_t got;
  while ((got = ::read(pipe_fds[0], buf, sizeof buf)) > 0 && output.size() < 65536) {
    output.append(buf, static_cast<size_t>(got));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

class ExpositionTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ExpositionTest);
  CPPUNIT_TEST(accept_header_chooses_the_format);
  CPPUNIT_TEST(prometheus_text_names_counters_with_total);
  CPPUNIT_TEST(openmetrics_names_families_without_total_and_ends_with_eof);
  CPPUNIT_TEST(histograms_are_cumulative_with_sum_and_count);
  CPPUNIT_TEST(build_info_carries_the_version);
  CPPUNIT_TEST(gauges_not_provided_are_left_out);
  CPPUNIT_TEST(every_sample_has_help_and_type);
  CPPUNIT_TEST(promtool_accepts_the_page);
  CPPUNIT_TEST_SUITE_END();

 public:
  void accept_header_chooses_the_format() {
    CPPUNIT_ASSERT(choose_exposition_format("") == ExpositionFormat::kPrometheusText);
    CPPUNIT_ASSERT(choose_exposition_format("text/plain;version=0.0.4;q=0.5,*/*;q=0.1") ==
                   ExpositionFormat::kPrometheusText);
    CPPUNIT_ASSERT(
        choose_exposition_format("application/openmetrics-text;version=1.0.0,text/plain;q=0.5") ==
        ExpositionFormat::kOpenMetrics);
    CPPUNIT_ASSERT_EQUAL(std::string("text/plain; version=0.0.4; charset=utf-8"),
                         std::string(exposition_content_type(ExpositionFormat::kPrometheusText)));
    CPPUNIT_ASSERT_EQUAL(std::string("application/openmetrics-text; version=1.0.0; charset=utf-8"),
                         std::string(exposition_content_type(ExpositionFormat::kOpenMetrics)));
  }

  void prometheus_text_names_counters_with_total() {
    const std::string page = render(ExpositionFormat::kPrometheusText);
    CPPUNIT_ASSERT(has(page, "# TYPE pop3d_logins_total counter\n"));
    CPPUNIT_ASSERT(has(page, "# HELP pop3d_logins_total Login attempts"));
    CPPUNIT_ASSERT(has(page, "pop3d_logins_total{method=\"user\",result=\"ok\"} 5\n"));
    CPPUNIT_ASSERT(
        has(page, "pop3d_logins_total{method=\"auth_plain\",result=\"refused_by_policy\"} 2\n"));
    CPPUNIT_ASSERT(has(page, "pop3d_logins_total{method=\"apop\",result=\"ok\"} 0\n"));
    CPPUNIT_ASSERT(has(page, "pop3d_sessions_total{end=\"quit\"} 7\n"));
    CPPUNIT_ASSERT(
        has(page, "pop3d_tls_handshakes_total{result=\"failed\",version=\"unknown\"} 3\n"));
    CPPUNIT_ASSERT(has(page, "pop3d_retrieved_octets_total 123456\n"));
    CPPUNIT_ASSERT(has(page, "pop3d_deleted_messages_total 4\n"));
    CPPUNIT_ASSERT(has(page, "pop3d_refusals_total{reason=\"anti_hammering\"} 9\n"));
    CPPUNIT_ASSERT(has(page, "pop3d_helper_checks_total{result=\"ok\"} 1\n"));
    CPPUNIT_ASSERT(has(page, "pop3d_start_time_seconds 1700000000.0\n"));
    CPPUNIT_ASSERT(!has(page, "# EOF"));
  }

  void openmetrics_names_families_without_total_and_ends_with_eof() {
    const std::string page = render(ExpositionFormat::kOpenMetrics);
    CPPUNIT_ASSERT(has(page, "# TYPE pop3d_logins counter\n"));
    CPPUNIT_ASSERT(has(page, "# HELP pop3d_logins Login attempts"));
    CPPUNIT_ASSERT(!has(page, "# TYPE pop3d_logins_total"));
    CPPUNIT_ASSERT(has(page, "pop3d_logins_total{method=\"user\",result=\"ok\"} 5\n"));
    CPPUNIT_ASSERT(has(page, "# TYPE pop3d_build info\n"));
    const std::string eof = "# EOF\n";
    CPPUNIT_ASSERT(page.size() > eof.size());
    CPPUNIT_ASSERT_EQUAL(eof, page.substr(page.size() - eof.size()));
    CPPUNIT_ASSERT_EQUAL(page.find("# EOF"), page.size() - eof.size());
  }

  void histograms_are_cumulative_with_sum_and_count() {
    for (ExpositionFormat f : {ExpositionFormat::kPrometheusText, ExpositionFormat::kOpenMetrics}) {
      const std::string page = render(f);
      CPPUNIT_ASSERT(has(page, "# TYPE pop3d_login_duration_seconds histogram\n"));
      CPPUNIT_ASSERT(has(page, "pop3d_login_duration_seconds_bucket{le=\"0.005\"} 2\n"));
      CPPUNIT_ASSERT(has(page, "pop3d_login_duration_seconds_bucket{le=\"0.025\"} 2\n"));
      CPPUNIT_ASSERT(has(page, "pop3d_login_duration_seconds_bucket{le=\"0.05\"} 3\n"));
      CPPUNIT_ASSERT(has(page, "pop3d_login_duration_seconds_bucket{le=\"1.0\"} 3\n"));
      CPPUNIT_ASSERT(has(page, "pop3d_login_duration_seconds_bucket{le=\"10.0\"} 3\n"));
      CPPUNIT_ASSERT(has(page, "pop3d_login_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
      CPPUNIT_ASSERT(has(page, "pop3d_login_duration_seconds_sum 12.5\n"));
      CPPUNIT_ASSERT(has(page, "pop3d_login_duration_seconds_count 4\n"));
      CPPUNIT_ASSERT(has(page, "pop3d_session_duration_seconds_bucket{le=\"1800.0\"} 0\n"));
      CPPUNIT_ASSERT(has(page, "pop3d_session_duration_seconds_count 0\n"));
    }
  }

  void build_info_carries_the_version() {
    const MetricsSnapshot s;
    const std::string page =
        render_metrics(s, {}, ExpositionInfo{"2.0\"x\\y\nz", 0}, ExpositionFormat::kPrometheusText);
    CPPUNIT_ASSERT(has(page, "# TYPE pop3d_build_info gauge\n"));
    CPPUNIT_ASSERT(has(page, "pop3d_build_info{version=\"2.0\\\"x\\\\y\\nz\"} 1\n"));
    CPPUNIT_ASSERT(
        has(render(ExpositionFormat::kOpenMetrics), "pop3d_build_info{version=\"1.2.3\"} 1\n"));
  }

  void gauges_not_provided_are_left_out() {
    const std::string with = render(ExpositionFormat::kPrometheusText);
    CPPUNIT_ASSERT(has(with, "pop3d_anti_hammering_blocks 3\n"));
    CPPUNIT_ASSERT(has(with, "pop3d_workers{state=\"busy\"} 2\n"));
    CPPUNIT_ASSERT(has(with, "pop3d_workers{state=\"spare\"} 92\n"));
    ScrapeGauges some;
    some.workers_idle = 4;
    const std::string without = render(ExpositionFormat::kPrometheusText, some);
    CPPUNIT_ASSERT(!has(without, "pop3d_anti_hammering_blocks"));
    CPPUNIT_ASSERT(has(without, "pop3d_workers{state=\"idle\"} 4\n"));
    CPPUNIT_ASSERT(!has(without, "state=\"busy\""));
    CPPUNIT_ASSERT(!has(render(ExpositionFormat::kPrometheusText, {}), "pop3d_workers"));
  }

  void every_sample_has_help_and_type() {
    assert_every_sample_has_help_and_type(render(ExpositionFormat::kPrometheusText), false);
    assert_every_sample_has_help_and_type(render(ExpositionFormat::kOpenMetrics), true);
  }

  // The real check an administrator would run. scripts/deps installs
  // Debian's prometheus package, which has promtool: its absence is a
  // broken test machine, not a reason to skip.
  void promtool_accepts_the_page() {
    const std::string promtool = find_on_path("promtool");
    CPPUNIT_ASSERT_MESSAGE(
        "promtool not found on PATH: install Debian's prometheus package (scripts/deps does)",
        !promtool.empty());
    for (const ScrapeGauges& g : {sample_gauges(), ScrapeGauges{}}) {
      std::string output;
      const int status =
          promtool_check(promtool, render(ExpositionFormat::kPrometheusText, g), output);
      CPPUNIT_ASSERT_EQUAL_MESSAGE(output, 0, status);
      CPPUNIT_ASSERT_EQUAL_MESSAGE("promtool found problems", std::string(), output);
    }
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ExpositionTest);

}  // namespace pop3d
