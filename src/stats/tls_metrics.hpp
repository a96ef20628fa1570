// CountingTlsUpgrader: STLS as the worker offers it, with each handshake
// counted in the metrics (result and protocol version).
#pragma once

#include <memory>

#include "pop3/session.hpp"
#include "stats/metrics_table.hpp"

namespace pop3d {

class CountingTlsUpgrader : public TlsUpgrader {
 public:
  CountingTlsUpgrader(TlsUpgrader& inner, MetricsTable* metrics)
      : inner_(inner), metrics_(metrics) {}
  std::unique_ptr<Transport> upgrade(Transport& plain) override;

 private:
  TlsUpgrader& inner_;
  MetricsTable* metrics_;
};

}  // namespace pop3d
