#include "stats/table_gauges.hpp"

#include <algorithm>

namespace pop3d {

ScrapeGauges TableGauges::gauges() {
  ScrapeGauges g;
  if (hammer_ != nullptr) {
    // The table's own listing, as --show-blocked reads it (under the
    // table's lock, which the stats process holds for one pass only).
    g.anti_hammering_blocks = hammer_->blocked(policy_, AntiHammerTable::now()).size();
  }
  // Read without the lock and capped at the table's capacity, so no value
  // a worker leaves there makes the figures absurd; capped again here at
  // the pool, which cannot run more sessions than it has workers.
  const size_t busy = std::min(connections_.active_estimate(), pool_.workers);
  g.workers_busy = busy;
  g.workers_idle = pool_.workers - busy;
  g.workers_spare = pool_.max_sessions > busy ? pool_.max_sessions - busy : 0;
  return g;
}

}  // namespace pop3d
