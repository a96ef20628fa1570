// TableGauges: the gauges of a scrape, read from the daemon's shared tables
// when the scraper asks: addresses blocked by anti-hammering now, and the
// worker pool's use (sessions from the connection table). Runs in the stats
// process; the pool's size is the one the master had when it forked it.
#pragma once

#include <cstddef>

#include "security/anti_hammer_table.hpp"
#include "security/connection_table.hpp"
#include "stats/exposition.hpp"

namespace pop3d {

struct PoolShape {
  size_t max_sessions = 0;  // pop3.max_connections
  size_t workers = 0;       // the pool: max_sessions plus the spare ones
};

class TableGauges : public ScrapeGaugeSource {
 public:
  // `hammer` null: anti-hammering is off, and no block is shown.
  TableGauges(AntiHammerTable* hammer, const AntiHammerPolicy& policy,
              const ConnectionTable& connections, PoolShape pool)
      : hammer_(hammer), policy_(policy), connections_(connections), pool_(pool) {}

  ScrapeGauges gauges() override;

 private:
  AntiHammerTable* hammer_;
  AntiHammerPolicy policy_;
  const ConnectionTable& connections_;
  PoolShape pool_;
};

}  // namespace pop3d
