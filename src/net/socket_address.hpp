// SocketAddress: an IPv4 or IPv6 address with a port, as the socket calls
// want it, plus the text forms used in logs and error messages.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>

namespace pop3d {

class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(const sockaddr* sa, socklen_t len);

  // Parses a numeric IPv4 or IPv6 address (no host names, no brackets).
  static std::optional<SocketAddress> parse_numeric(const std::string& ip, int port);

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  int family() const { return storage_.ss_family; }
  int port() const;

  std::string ip() const;         // "192.0.2.1", "2001:db8::1"; v4-mapped shown as v4
  std::string to_string() const;  // "192.0.2.1:110", "[2001:db8::1]:110"
  bool operator==(const SocketAddress& other) const;

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

}  // namespace pop3d
