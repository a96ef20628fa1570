// TableGauges: the gauges of a scrape, read from the daemon's shared tables
// when the scraper asks: addresses blocked by anti-hammering now, and the
// worker pool's use (sessions from the connection table). Runs in the stats
// process; the pool's size is the one the master last published.
#pragma once

#include <cstddef>

#include "security/anti_hammer_table.hpp"
#include "security/connection_table.hpp"
#include "stats/exposition.hpp"
#include "stats/metrics_table.hpp"

namespace pop3d {

class TableGauges : public ScrapeGaugeSource {
 public:
  // The pool's shape, and whether anti-hammering is on, come from what the
  // master publishes in `metrics` (so they follow a reload); no more than
  // `max_workers` workers are ever shown.
  TableGauges(AntiHammerTable& hammer, const AntiHammerPolicy& policy,
              const ConnectionTable& connections, const MetricsTable& metrics, size_t max_workers)
      : hammer_(hammer),
        policy_(policy),
        connections_(connections),
        metrics_(metrics),
        max_workers_(max_workers) {}

  ScrapeGauges gauges() override;

 private:
  AntiHammerTable& hammer_;
  AntiHammerPolicy policy_;
  const ConnectionTable& connections_;
  const MetricsTable& metrics_;
  size_t max_workers_;
};

}  // namespace pop3d
