#include "net/proxy_header.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "log/logger.hpp"
#include "util/crc32c.hpp"

namespace pop3d {

namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::string_view kV2Signature{"\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A", 12};
constexpr size_t kV2FixedLength = 16;

// The v2 command (low nibble of byte 13) and the family/transport byte.
constexpr uint8_t kCmdLocal = 0x0;
constexpr uint8_t kCmdProxy = 0x1;
constexpr uint8_t kFamUnspec = 0x00;
constexpr uint8_t kFamTcp4 = 0x11;
constexpr uint8_t kFamUdp4 = 0x12;
constexpr uint8_t kFamTcp6 = 0x21;
constexpr uint8_t kFamUdp6 = 0x22;
constexpr uint8_t kFamUnixStream = 0x31;
constexpr uint8_t kFamUnixDgram = 0x32;
constexpr size_t kTcp4BlockLength = 2 * 4 + 2 * 2;
constexpr size_t kTcp6BlockLength = 2 * 16 + 2 * 2;

constexpr uint8_t kTypeCrc32c = 0x03;
constexpr uint8_t kTypeSsl = 0x20;
constexpr uint8_t kSubtypeSslVersion = 0x21;
constexpr uint8_t kClientSsl = 0x01;
constexpr size_t kTlvHeaderLength = 3;     // type, length (2 octets)
constexpr size_t kSslFixedLength = 1 + 4;  // client flags, verify

Error v1_error(std::string_view what) {
  return Error{"PROXY v1: " + std::string(what)};
}
Error v2_error(std::string_view what) {
  return Error{"PROXY v2: " + std::string(what)};
}

uint8_t byte_at(std::string_view s, size_t i) {
  return static_cast<uint8_t>(s[i]);
}
uint16_t be16_at(std::string_view s, size_t i) {
  return static_cast<uint16_t>(byte_at(s, i) << 8 | byte_at(s, i + 1));
}
uint32_t be32_at(std::string_view s, size_t i) {
  return uint32_t{be16_at(s, i)} << 16 | be16_at(s, i + 2);
}

// Whether `prefix` agrees with `expected` as far as it goes.
bool starts_like(std::string_view prefix, std::string_view expected) {
  const size_t n = std::min(prefix.size(), expected.size());
  return prefix.substr(0, n) == expected.substr(0, n);
}

Result<size_t> v1_length(std::string_view prefix) {
  if (!starts_like(prefix, kV1Prefix)) return v1_error("bad signature");
  // The CRLF must end the line by octet 107, so its CR is among the first 106.
  const size_t scan = std::min(prefix.size(), kProxyV1MaxLength - 1);
  for (size_t i = 0; i < scan; ++i) {
    if (prefix[i] == '\n') return v1_error("line ends in a bare LF");
    if (prefix[i] != '\r') continue;
    if (i + 1 == prefix.size()) return size_t{0};
    if (prefix[i + 1] != '\n') return v1_error("line ends in a bare CR");
    return i + 2;
  }
  if (prefix.size() >= kProxyV1MaxLength - 1) return v1_error("no CRLF within 107 octets");
  return size_t{0};
}

Result<size_t> v2_length(std::string_view prefix) {
  if (!starts_like(prefix, kV2Signature)) return v2_error("bad signature");
  if (prefix.size() <= kV2Signature.size()) return size_t{0};
  if ((byte_at(prefix, 12) >> 4) != 2) return v2_error("unsupported version");
  if (prefix.size() < kV2FixedLength) return size_t{0};
  const size_t total = kV2FixedLength + be16_at(prefix, 14);
  if (total > kProxyV2MaxLength) return v2_error("header longer than 1040 octets");
  return total;
}

// ---- version 1 ----

// A port as the spec writes it: decimal, 0..65535, no sign, no leading zero.
bool parse_port(std::string_view text, uint16_t* port) {
  if (text.empty() || text.size() > 5) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  uint32_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

// A numeric address of `family`. The character check comes first so that
// inet_pton never sees a NUL (which would end the text early) or junk.
bool parse_v1_address(std::string_view text, int family, uint16_t port, SocketAddress* out) {
  constexpr size_t kMaxText = 45;  // "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
  if (text.empty() || text.size() > kMaxText) return false;
  for (const char c : text) {
    const bool digit = c >= '0' && c <= '9';
    const bool hex = (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!(digit || c == '.' || (family == AF_INET6 && (hex || c == ':')))) return false;
  }
  char buf[kMaxText + 1] = {};
  std::memcpy(buf, text.data(), text.size());
  if (family == AF_INET) {
    sockaddr_in v4{};
    // glibc's inet_pton refuses leading zeros in IPv4 octets, as the spec asks.
    if (::inet_pton(AF_INET, buf, &v4.sin_addr) != 1) return false;
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    *out = SocketAddress(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
  } else {
    sockaddr_in6 v6{};
    if (::inet_pton(AF_INET6, buf, &v6.sin6_addr) != 1) return false;
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    *out = SocketAddress(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
  }
  return true;
}

Result<ProxyHeader> parse_v1(std::string_view line) {
  // proxy_header_length vouched for "PROXY " in front and CRLF at the end.
  std::string_view rest = line.substr(kV1Prefix.size(), line.size() - kV1Prefix.size() - 2);
  ProxyHeader header;
  header.version = 1;
  // "the receiver must ignore anything presented before the CRLF".
  if (rest == "UNKNOWN" || rest.starts_with("UNKNOWN ")) {
    header.keeps_real_addresses = true;
    return header;
  }

  constexpr size_t kFields = 5;  // protocol, source, destination, source port, destination port
  std::string_view fields[kFields];
  size_t count = 0;
  for (;;) {
    const size_t space = rest.find(' ');
    if (count == kFields) return v1_error("too many fields");
    fields[count++] = rest.substr(0, space);
    if (fields[count - 1].empty()) return v1_error("empty field (double space?)");
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  int family = 0;
  if (fields[0] == "TCP4") {
    family = AF_INET;
  } else if (fields[0] == "TCP6") {
    family = AF_INET6;
  } else {
    return v1_error("protocol is not TCP4, TCP6 or UNKNOWN");
  }
  if (count != kFields) return v1_error("too few fields");
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  if (!parse_port(fields[3], &source_port)) return v1_error("bad source port");
  if (!parse_port(fields[4], &destination_port)) return v1_error("bad destination port");
  if (!parse_v1_address(fields[1], family, source_port, &header.source))
    return v1_error("bad source address");
  if (!parse_v1_address(fields[2], family, destination_port, &header.destination))
    return v1_error("bad destination address");
  return header;
}

// ---- version 2 ----

// Walks the TLVs that fill `block` exactly, calling on_tlv(type, value)
// for each; stops at the first error either finds.
template <typename OnTlv>
Status walk_tlvs(std::string_view block, OnTlv on_tlv) {
  while (!block.empty()) {
    if (block.size() < kTlvHeaderLength) return v2_error("truncated TLV header");
    const uint8_t type = byte_at(block, 0);
    const size_t length = be16_at(block, 1);
    if (length > block.size() - kTlvHeaderLength) return v2_error("truncated TLV value");
    if (Status s = on_tlv(type, block.substr(kTlvHeaderLength, length)); !s) return s;
    block.remove_prefix(kTlvHeaderLength + length);
  }
  return {};
}

Status parse_ssl_tlv(std::string_view value, ProxyHeader* header) {
  if (value.size() < kSslFixedLength) return v2_error("SSL TLV shorter than 5 octets");
  header->client_tls = (byte_at(value, 0) & kClientSsl) != 0;
  // The verify field (octets 1-4) speaks of client certificates, which a
  // POP3 login does not use.
  return walk_tlvs(value.substr(kSslFixedLength), [&](uint8_t type, std::string_view sub) {
    if (type == kSubtypeSslVersion) header->tls_version = log_escape(sub);
    return Status{};
  });
}

// `bytes` is the whole header; `value_offset` is where the CRC's 4 value
// octets sit in it. The sum runs over the header with those octets zeroed.
Status check_crc(std::string_view bytes, size_t value_offset) {
  const uint32_t sent = be32_at(bytes, value_offset);
  uint32_t sum = crc32c(bytes.substr(0, value_offset));
  sum = crc32c(std::string_view("\0\0\0\0", 4), sum);
  sum = crc32c(bytes.substr(value_offset + 4), sum);
  if (sum != sent) return v2_error("CRC32C mismatch");
  return {};
}

SocketAddress v2_address(int family, std::string_view ip, std::string_view port) {
  if (family == AF_INET) {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    std::memcpy(&v4.sin_addr, ip.data(), 4);  // both in network order
    std::memcpy(&v4.sin_port, port.data(), 2);
    return SocketAddress(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
  }
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  std::memcpy(&v6.sin6_addr, ip.data(), 16);
  std::memcpy(&v6.sin6_port, port.data(), 2);
  return SocketAddress(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
}

Result<ProxyHeader> parse_v2(std::string_view bytes) {
  ProxyHeader header;
  header.version = 2;
  const uint8_t command = byte_at(bytes, 12) & 0x0F;
  if (command == kCmdLocal) {
    // "discard the protocol block including the family which is ignored".
    header.keeps_real_addresses = true;
    return header;
  }
  if (command != kCmdProxy) return v2_error("unknown command");

  const std::string_view block = bytes.substr(kV2FixedLength);
  int family = 0;
  size_t ip_length = 0;
  switch (byte_at(bytes, 13)) {
    case kFamUnspec:
      header.keeps_real_addresses = true;
      return header;
    case kFamTcp4:
      family = AF_INET;
      ip_length = 4;
      break;
    case kFamTcp6:
      family = AF_INET6;
      ip_length = 16;
      break;
    case kFamUdp4:
    case kFamUdp6:
    case kFamUnixStream:
    case kFamUnixDgram:
      return v2_error("UDP or UNIX connection (pop3d serves TCP only)");
    default:
      return v2_error("unknown address family");
  }
  const size_t address_length = family == AF_INET ? kTcp4BlockLength : kTcp6BlockLength;
  if (block.size() < address_length) return v2_error("address block truncated");
  header.source = v2_address(family, block.substr(0, ip_length), block.substr(2 * ip_length, 2));
  header.destination =
      v2_address(family, block.substr(ip_length, ip_length), block.substr(2 * ip_length + 2, 2));

  bool seen_crc = false;
  bool seen_ssl = false;
  const size_t tlv_start = kV2FixedLength + address_length;
  Status tlvs = walk_tlvs(bytes.substr(tlv_start), [&](uint8_t type, std::string_view value) {
    if (type == kTypeCrc32c) {
      if (seen_crc) return Status(v2_error("more than one CRC32C TLV"));
      seen_crc = true;
      if (value.size() != 4) return Status(v2_error("CRC32C TLV not 4 octets"));
      return check_crc(bytes, static_cast<size_t>(value.data() - bytes.data()));
    }
    if (type == kTypeSsl) {
      if (seen_ssl) return Status(v2_error("more than one SSL TLV"));
      seen_ssl = true;
      return parse_ssl_tlv(value, &header);
    }
    return Status{};  // ALPN, authority, NOOP, unique ID, netns, custom: not needed here
  });
  if (!tlvs) return tlvs.error();
  return header;
}

}  // namespace

Result<size_t> proxy_header_length(std::string_view prefix) {
  if (prefix.empty()) return size_t{0};
  if (prefix[0] == kV2Signature[0]) return v2_length(prefix);
  if (prefix[0] == kV1Prefix[0]) return v1_length(prefix);
  return Error{"PROXY header: bad signature"};
}

Result<ProxyHeader> parse_proxy_header(std::string_view bytes) {
  Result<size_t> length = proxy_header_length(bytes);
  if (!length) return length.error();
  if (*length == 0) return Error{"PROXY header: incomplete"};
  if (*length != bytes.size()) return Error{"PROXY header: bytes after the header"};
  return bytes[0] == kV2Signature[0] ? parse_v2(bytes) : parse_v1(bytes);
}

}  // namespace pop3d
