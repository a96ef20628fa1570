// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and
// 2) that a trusted proxy puts in front of each connection it relays: who
// the client is, which address it connected to, and whether it spoke TLS
// to the proxy. Pure parsing: no I/O (read_proxy_header in
// net/proxy_reader.hpp takes the bytes off the socket).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "net/socket_address.hpp"
#include "util/result.hpp"

namespace pop3d {

struct ProxyHeader {
  int version = 0;  // 1 or 2
  // LOCAL (v2), UNKNOWN (v1) or AF_UNSPEC (v2): the proxy speaks for itself
  // (health checks); the connection's own addresses stand.
  bool keeps_real_addresses = false;
  SocketAddress source;       // the client, when !keeps_real_addresses
  SocketAddress destination;  // the address the client connected to
  bool client_tls = false;    // v2 PP2_TYPE_SSL with PP2_CLIENT_SSL set
  std::string tls_version;    // PP2_SUBTYPE_SSL_VERSION when sent, for logs
                              // (bytes outside printable ASCII escaped as \xNN)
};

// The spec's worst case: "PROXY UNKNOWN <ipv6> <ipv6> 65535 65535\r\n".
inline constexpr size_t kProxyV1MaxLength = 107;

// The largest v2 header accepted (16-byte fixed part + addresses + TLVs).
// HAProxy's usual headers are well under 512 bytes; the limit bounds memory.
// The 1024 octets after the fixed part hold the IPv6 address block (36)
// plus every TLV HAProxy sends filled to its practical size (SSL with its
// version, cipher, algorithms and a 64-octet CN; a 255-octet SNI
// authority; ALPN; a 128-octet unique ID; CRC32C; a netns name): about 700,
// with room for a cloud load balancer's own TLV. Anything longer is not a
// header a proxy in front of a POP3 server sends.
inline constexpr size_t kProxyV2MaxLength = 16 + 1024;

// Given the first bytes received, how long the whole header is:
//  - a value > 0: the header's total length in octets (v2: 16 + len field;
//    v1: up to and including CRLF),
//  - 0: not enough bytes yet to tell,
//  - an Error: these bytes cannot start a valid header (wrong signature,
//    v1 line over 107 octets without CRLF, v2 length over the limit, bad
//    version nibble...).
// Looks at no more than kProxyV2MaxLength bytes of `prefix`.
Result<size_t> proxy_header_length(std::string_view prefix);

// Parses exactly one whole header (bytes.size() == proxy_header_length(bytes)).
// LOCAL (v2) ignores the whole block after the fixed part, family and TLVs
// included, as the spec says; so does the AF_UNSPEC family, whose address
// block has no defined layout. PROXY over TCP4/TCP6 checks every TLV.
Result<ProxyHeader> parse_proxy_header(std::string_view bytes);

}  // namespace pop3d
