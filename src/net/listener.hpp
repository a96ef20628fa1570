// Listeners: the sockets the master binds before it drops privileges, and
// the resolution of pop3.bind / pop3.listen / general.bind_addresses into
// the addresses to bind.
#pragma once

#include <string>
#include <vector>

#include "config/settings.hpp"
#include "net/socket_address.hpp"
#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

struct Listener {
  UniqueFd fd;
  SocketAddress address;
  bool implicit_tls = false;  // the pop3.ssl_port listener
};

// Turns one entry of a bind list into addresses: a numeric IPv4/IPv6
// address, or a host name, which binds every address it resolves to.
Result<std::vector<SocketAddress>> resolve_bind_entry(const std::string& entry, int port);

// The addresses the POP3 service binds on `port`, from pop3.bind:
// "default" -> general.bind_addresses, "all" -> 0.0.0.0 and ::,
// "list" -> pop3.listen. Duplicates are removed.
Result<std::vector<SocketAddress>> resolve_service_addresses(const Settings& settings, int port);

// socket + bind + listen, non-blocking, close-on-exec. IPv6 sockets are
// IPv6-only so that "0.0.0.0" and "::" can both be bound.
Result<UniqueFd> bind_listener(const SocketAddress& address);

// Every listener of the POP3 service: the plain port, and the implicit-TLS
// port when pop3.implicit_ssl is on. The error names the address and port.
Result<std::vector<Listener>> open_service_listeners(const Settings& settings);

}  // namespace pop3d
