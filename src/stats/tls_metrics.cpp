#include "stats/tls_metrics.hpp"

#include "stats/session_metrics.hpp"
#include "tls/tls_transport.hpp"

namespace pop3d {

std::unique_ptr<Transport> CountingTlsUpgrader::upgrade(Transport& plain) {
  std::unique_ptr<Transport> tls = inner_.upgrade(plain);
  // StlsUpgrader hands back the TLS transport itself (tls_transport.cpp).
  const auto* t = dynamic_cast<const TlsTransport*>(tls.get());
  count_tls_handshake(metrics_,
                      t != nullptr ? std::optional<std::string>(t->protocol()) : std::nullopt);
  return tls;
}

}  // namespace pop3d
