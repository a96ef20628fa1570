#include "stats/exposition.hpp"

#include <array>
#include <charconv>
#include <limits>

namespace pop3d {

namespace {

// Label values, in the order of the enums in stats/metrics_table.hpp.
constexpr std::array<std::string_view, count_of<SessionEnd>()> kSessionEndNames = {
    "quit",   "timeout",    "disconnect", "too_many_errors", "blocked", "evicted",
    "kicked", "tls_failed", "error"};
constexpr std::array<std::string_view, count_of<LoginMethod>()> kLoginMethodNames = {
    "user", "apop", "auth_plain", "auth_login"};
constexpr std::array<std::string_view, count_of<LoginResult>()> kLoginResultNames = {
    "ok", "wrong_credentials", "refused_by_policy", "temporary_failure", "mailbox_unavailable"};
constexpr std::array<std::string_view, count_of<TlsResult>()> kTlsResultNames = {"ok", "failed"};
constexpr std::array<std::string_view, count_of<TlsVersion>()> kTlsVersionNames = {
    "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3", "unknown"};
constexpr std::array<std::string_view, count_of<RefusalReason>()> kRefusalNames = {
    "blocked", "anti_hammering", "too_many_connections", "too_many_from_address"};
constexpr std::array<std::string_view, count_of<HelperCheckResult>()> kHelperCheckNames = {
    "ok", "wrong_credentials", "refused", "failed"};

std::string number(uint64_t v) {
  return std::to_string(v);
}

// The shortest fixed-point form that reads back as the same double, with
// ".0" added to a whole number: OpenMetrics wants "1.0", not "1", for le
// and _sum, and a start time reads better without an exponent. Room for
// the longest double in fixed notation (DBL_MAX has 309 digits).
std::string number(double v) {
  char buf[400];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (ec != std::errc()) return "NaN";
  std::string s(buf, end);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

// Label values here are our own names and PACKAGE_VERSION; escaped anyway,
// as the format asks, so that no version string can break the page.
std::string escape_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Page {
 public:
  explicit Page(ExpositionFormat format) : om_(format == ExpositionFormat::kOpenMetrics) {}

  // A counter family named `base` (without _total): OpenMetrics names the
  // family without the suffix, the classic format with it.
  void counter(std::string_view base, std::string_view help) {
    header(om_ ? std::string(base) : std::string(base) + "_total", "counter", help);
  }
  void gauge(std::string_view name, std::string_view help) { header(name, "gauge", help); }
  void histogram(std::string_view name, std::string_view help) { header(name, "histogram", help); }
  // pop3d_build_info: an info family in OpenMetrics, a gauge of 1 otherwise.
  void info(std::string_view base, std::string_view help) {
    if (om_) {
      header(base, "info", help);
    } else {
      header(std::string(base) + "_info", "gauge", help);
    }
  }

  void sample(std::string_view name, std::string_view labels, const std::string& value) {
    text_ += name;
    if (!labels.empty()) {
      text_ += '{';
      text_ += labels;
      text_ += '}';
    }
    text_ += ' ';
    text_ += value;
    text_ += '\n';
  }

  std::string finish() {
    if (om_) text_ += "# EOF\n";
    return std::move(text_);
  }

 private:
  void header(std::string_view name, std::string_view type, std::string_view help) {
    text_ += "# HELP ";
    text_ += name;
    text_ += ' ';
    text_ += help;
    text_ += "\n# TYPE ";
    text_ += name;
    text_ += ' ';
    text_ += type;
    text_ += '\n';
  }

  bool om_;
  std::string text_;
};

std::string label(std::string_view name, std::string_view value) {
  return std::string(name) + "=\"" + escape_label(value) + "\"";
}

// Cumulative buckets, _sum and _count. _count is the +Inf bucket, computed
// here, so the page is consistent whatever a worker left in the mapping;
// the sums saturate rather than wrap, so the buckets never decrease.
void histogram(Page& page, std::string_view name, std::string_view help, const HistogramSnapshot& h,
               const std::array<double, kHistogramBuckets>& bounds) {
  page.histogram(name, help);
  uint64_t cumulative = 0;
  auto add = [&cumulative](uint64_t v) {
    cumulative = v > std::numeric_limits<uint64_t>::max() - cumulative
                     ? std::numeric_limits<uint64_t>::max()
                     : cumulative + v;
  };
  const std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i < bounds.size(); ++i) {
    add(h.buckets[i]);
    page.sample(bucket, label("le", number(bounds[i])), number(cumulative));
  }
  add(h.buckets[kHistogramBuckets]);
  page.sample(bucket, label("le", "+Inf"), number(cumulative));
  page.sample(std::string(name) + "_sum", "", number(static_cast<double>(h.sum_micros) / 1e6));
  page.sample(std::string(name) + "_count", "", number(cumulative));
}

}  // namespace

ExpositionFormat choose_exposition_format(std::string_view accept) {
  return accept.find("application/openmetrics-text") != std::string_view::npos
             ? ExpositionFormat::kOpenMetrics
             : ExpositionFormat::kPrometheusText;
}

std::string_view exposition_content_type(ExpositionFormat format) {
  return format == ExpositionFormat::kOpenMetrics
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

std::string render_metrics(const MetricsSnapshot& s, const ScrapeGauges& gauges,
                           const ExpositionInfo& info, ExpositionFormat format) {
  Page page(format);

  page.info("pop3d_build", "The version of pop3d that serves these metrics.");
  page.sample("pop3d_build_info", label("version", info.version), "1");

  page.gauge("pop3d_start_time_seconds",
             "When the master started counting, in seconds since the epoch; the counters "
             "reset only when it restarts.");
  page.sample("pop3d_start_time_seconds", "", number(static_cast<double>(info.start_time)));

  page.counter("pop3d_sessions", "POP3 sessions ended, by how they ended.");
  for (size_t i = 0; i < s.sessions.size(); ++i) {
    page.sample("pop3d_sessions_total", label("end", kSessionEndNames[i]), number(s.sessions[i]));
  }

  page.counter("pop3d_logins",
               "Login attempts by method and result: ok (in TRANSACTION state), wrong "
               "credentials (unknown user or wrong password), refused by policy after a right "
               "password, temporary failure of the user database, mailbox unavailable (locked "
               "by another session, or cannot be opened).");
  for (size_t m = 0; m < s.logins.size(); ++m) {
    for (size_t r = 0; r < s.logins[m].size(); ++r) {
      page.sample(
          "pop3d_logins_total",
          label("method", kLoginMethodNames[m]) + "," + label("result", kLoginResultNames[r]),
          number(s.logins[m][r]));
    }
  }

  page.counter("pop3d_tls_handshakes",
               "TLS handshakes (STLS and the TLS port) by result and "
               "protocol version.");
  for (size_t r = 0; r < s.tls.size(); ++r) {
    for (size_t v = 0; v < s.tls[r].size(); ++v) {
      page.sample("pop3d_tls_handshakes_total",
                  label("result", kTlsResultNames[r]) + "," + label("version", kTlsVersionNames[v]),
                  number(s.tls[r][v]));
    }
  }

  page.counter("pop3d_retrieved_messages", "Messages sent to clients by RETR.");
  page.sample("pop3d_retrieved_messages_total", "", number(s.retrieved_messages));
  page.counter("pop3d_retrieved_octets", "Octets of messages sent to clients by RETR.");
  page.sample("pop3d_retrieved_octets_total", "", number(s.retrieved_octets));
  page.counter("pop3d_deleted_messages", "Messages deleted at QUIT.");
  page.sample("pop3d_deleted_messages_total", "", number(s.deleted_messages));

  page.counter("pop3d_refusals", "Connections refused before the greeting, by reason.");
  for (size_t i = 0; i < s.refusals.size(); ++i) {
    page.sample("pop3d_refusals_total", label("reason", kRefusalNames[i]), number(s.refusals[i]));
  }

  page.counter("pop3d_helper_checks",
               "Credential checks answered by the privileged helper (system users), by result.");
  for (size_t i = 0; i < s.helper_checks.size(); ++i) {
    page.sample("pop3d_helper_checks_total", label("result", kHelperCheckNames[i]),
                number(s.helper_checks[i]));
  }

  histogram(page, "pop3d_login_duration_seconds",
            "Time from a login command to its verdict: the credentials check, and the "
            "maildrop's opening for a right password (auth.failure_delay not included).",
            s.histograms[static_cast<size_t>(HistogramKind::kLoginLatency)], kLoginLatencyBounds);
  histogram(page, "pop3d_session_duration_seconds",
            "Time from accepting a connection to the end of its session.",
            s.histograms[static_cast<size_t>(HistogramKind::kSessionDuration)],
            kSessionDurationBounds);

  if (gauges.anti_hammering_blocks) {
    page.gauge("pop3d_anti_hammering_blocks", "Client addresses blocked by anti-hammering now.");
    page.sample("pop3d_anti_hammering_blocks", "", number(*gauges.anti_hammering_blocks));
  }
  if (gauges.workers_busy || gauges.workers_idle || gauges.workers_spare) {
    page.gauge("pop3d_workers",
               "Worker processes by state: busy in a session, idle waiting for a connection; "
               "spare: sessions that may still start before pop3.max_connections turns "
               "clients away.");
    const std::pair<std::string_view, const std::optional<uint64_t>*> states[] = {
        {"busy", &gauges.workers_busy},
        {"idle", &gauges.workers_idle},
        {"spare", &gauges.workers_spare}};
    for (const auto& [name, value] : states) {
      if (*value) page.sample("pop3d_workers", label("state", name), number(**value));
    }
  }
  return page.finish();
}

}  // namespace pop3d
