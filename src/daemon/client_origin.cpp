#include "daemon/client_origin.hpp"

#include "net/proxy_header.hpp"
#include "net/proxy_reader.hpp"

namespace pop3d {

Result<ClientOrigin> client_origin(int fd, const SocketAddress& peer, const ProxyRules& rules) {
  ClientOrigin origin;
  origin.address = peer;
  if (!rules.expect_header) return origin;
  // Anyone else could claim any address, and so dodge a block or take
  // another's: with the protocol on, only the proxies may connect at all.
  if (rules.trusted == nullptr || !rules.trusted->contains(peer.ip())) {
    return Error{"not in pop3.proxy_trusted_networks"};
  }
  Result<ProxyHeader> header = read_proxy_header(fd, rules.timeout);
  if (!header) return header.error();  // "PROXY v1: ...", "PROXY header: timed out"
  // LOCAL (or UNKNOWN): the proxy's own connection, such as a health check.
  if (header->keeps_real_addresses) return origin;
  origin.address = header->source;
  origin.proxied = true;
  origin.tls_at_proxy = header->client_tls;
  return origin;
}

}  // namespace pop3d
