#include "sharedstate/redis_endpoint.hpp"

#include <arpa/inet.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace pop3d {

namespace {

// Host names as DNS allows them (letters, digits, '-', '.'), at most 253.
bool valid_host_name(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

Result<int> parse_port(const std::string& text, const std::string& whole) {
  int port = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, port);
  if (text.empty() || ec != std::errc() || ptr != end || port < 1 || port > 65535) {
    return Error{"\"" + whole + "\": the port must be a number from 1 to 65535"};
  }
  return port;
}

}  // namespace

Result<RedisEndpoint> RedisEndpoint::parse(const std::string& text) {
  RedisEndpoint e;
  e.text = text;
  const std::string unix_prefix = "unix:";
  if (text.compare(0, unix_prefix.size(), unix_prefix) == 0) {
    e.unix_path = text.substr(unix_prefix.size());
    if (e.unix_path.empty() || e.unix_path[0] != '/') {
      return Error{"\"" + text + "\": a Unix socket is written unix:/absolute/path"};
    }
    if (e.unix_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return Error{"\"" + text + "\": the socket path is too long for a Unix socket"};
    }
    return e;
  }
  std::string port_text;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Error{"\"" + text + "\": an IPv6 address is written [address]:port"};
    }
    e.host = text.substr(1, close - 1);
    in6_addr a6;
    if (::inet_pton(AF_INET6, e.host.c_str(), &a6) != 1) {
      return Error{"\"" + text + "\": \"" + e.host + "\" is not an IPv6 address"};
    }
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      return Error{"\"" + text + "\": expected host:port, [IPv6]:port or unix:/path"};
    }
    e.host = text.substr(0, colon);
    if (e.host.find(':') != std::string::npos) {
      return Error{"\"" + text + "\": an IPv6 address is written [address]:port"};
    }
    if (!valid_host_name(e.host)) {
      return Error{"\"" + text + "\": \"" + e.host + "\" is not a host name or address"};
    }
    port_text = text.substr(colon + 1);
  }
  auto port = parse_port(port_text, text);
  if (!port) return port.error();
  e.port = *port;
  return e;
}

}  // namespace pop3d
