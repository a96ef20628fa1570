#include "stats/table_gauges.hpp"

#include <algorithm>

namespace pop3d {

ScrapeGauges TableGauges::gauges() {
  ScrapeGauges g;
  const PoolShape pool = metrics_.pool(max_workers_);
  if (pool.anti_hammering) {
    // The table's own listing, as --show-blocked reads it (under the
    // table's lock, which the stats process holds for one pass only).
    g.anti_hammering_blocks = hammer_.blocked(policy_, AntiHammerTable::now()).size();
  }
  // Read without the lock and capped at the table's capacity, so no value
  // a worker leaves there makes the figures absurd; capped again here at
  // the pool, which cannot run more sessions than it has workers.
  const uint64_t busy = std::min<uint64_t>(connections_.active_estimate(), pool.workers);
  g.workers_busy = busy;
  g.workers_idle = pool.workers - busy;
  g.workers_spare = pool.max_sessions > busy ? pool.max_sessions - busy : 0;
  return g;
}

}  // namespace pop3d
