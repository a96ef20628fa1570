// Takes one PROXY protocol header off a freshly accepted connection.
#pragma once

#include <chrono>

#include "net/proxy_header.hpp"
#include "util/result.hpp"

namespace pop3d {

// Reads one PROXY header from `fd` (non-blocking, connected), waiting at most
// `timeout` in all, and NEVER reads a byte past the header: on the implicit-TLS
// port the client's TLS ClientHello follows in the same segment, and the TLS
// layer must find it intact. Errors: "timed out", "closed by peer", and the parser's.
// The waits are those of net/socket_transport.hpp's wait_for, so a session
// told to end from outside (WaitInterrupt) stops waiting for its header too.
Result<ProxyHeader> read_proxy_header(int fd, std::chrono::milliseconds timeout);

}  // namespace pop3d
