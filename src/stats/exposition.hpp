// Exposition: a metrics snapshot as the page a scraper reads, in the
// Prometheus text format 0.0.4 or in OpenMetrics 1.0, whichever the
// scraper's Accept header asks for. Every family has # HELP and # TYPE.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stats/metrics_table.hpp"

namespace pop3d {

enum class ExpositionFormat { kPrometheusText, kOpenMetrics };

// OpenMetrics when the Accept header names application/openmetrics-text
// (as Prometheus sends it, with q values that favour it), else the classic
// text format, which every scraper reads.
ExpositionFormat choose_exposition_format(std::string_view accept);
std::string_view exposition_content_type(ExpositionFormat format);

// Values that are not counters in the mapping but are read when a scraper
// asks: the anti-hammering table and the worker pool. A value left empty is
// not shown (its family is left out).
struct ScrapeGauges {
  std::optional<uint64_t> anti_hammering_blocks;
  std::optional<uint64_t> workers_busy;   // in a session
  std::optional<uint64_t> workers_idle;   // waiting for a connection
  std::optional<uint64_t> workers_spare;  // sessions that may start before refusals
};

// Where the stats process gets them; the master's wiring provides one.
class ScrapeGaugeSource {
 public:
  virtual ~ScrapeGaugeSource() = default;
  virtual ScrapeGauges gauges() = 0;
};

struct ExpositionInfo {
  std::string version;     // pop3d_build_info{version=...}
  int64_t start_time = 0;  // seconds since the epoch the counters count from
};

std::string render_metrics(const MetricsSnapshot& snapshot, const ScrapeGauges& gauges,
                           const ExpositionInfo& info, ExpositionFormat format);

}  // namespace pop3d
