// ClientOrigin: who is on the other end of an accepted connection. A client
// that connects directly is the socket's peer. Behind a load balancer
// (pop3.proxy_protocol) the socket's peer is the proxy, and the client is
// the one its PROXY protocol header names; the header is read before any
// other byte, and only a trusted proxy may send one.
#pragma once

#include <chrono>
#include <string>

#include "net/socket_address.hpp"
#include "security/ip_list.hpp"
#include "util/result.hpp"

namespace pop3d {

struct ClientOrigin {
  SocketAddress address;      // the client: from the header, or the socket's peer
  bool proxied = false;       // `address` came from a PROXY header
  bool tls_at_proxy = false;  // the client's TLS ended at the (trusted) proxy
};

struct ProxyRules {
  bool expect_header = false;  // pop3.proxy_protocol
  const IpList* trusted = nullptr;
  std::chrono::milliseconds timeout{3000};
};

// The origin of the connection on `fd` (non-blocking), whose socket peer is
// `peer`. With the header expected, an error means the connection must be
// closed unanswered: the peer is no trusted proxy, or its header was
// malformed or late. The error's message fits in one log line.
Result<ClientOrigin> client_origin(int fd, const SocketAddress& peer, const ProxyRules& rules);

}  // namespace pop3d
