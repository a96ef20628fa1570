#include "net/listener.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

namespace pop3d {

namespace {

// Kernel accept-queue length. The worker pool drains it; a long queue only
// makes clients wait longer before they learn the server is full.
constexpr int kListenBacklog = 511;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

}  // namespace

Result<std::vector<SocketAddress>> resolve_bind_entry(const std::string& raw, int port) {
  std::string entry = trim(raw);
  if (entry.size() > 2 && entry.front() == '[' && entry.back() == ']') {
    entry = entry.substr(1, entry.size() - 2);
  }
  if (entry.empty()) return Error{"empty bind address"};
  if (auto numeric = SocketAddress::parse_numeric(entry, port)) {
    return std::vector<SocketAddress>{*numeric};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(entry.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    return Error{"cannot resolve bind address '" + entry + "': " + ::gai_strerror(rc)};
  }
  std::vector<SocketAddress> out;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    SocketAddress address(ai->ai_addr, ai->ai_addrlen);
    if (std::find(out.begin(), out.end(), address) == out.end()) out.push_back(address);
  }
  ::freeaddrinfo(found);
  if (out.empty()) return Error{"bind address '" + entry + "' resolves to no address"};
  return out;
}

Result<std::vector<SocketAddress>> resolve_service_addresses(const Settings& settings, int port) {
  std::vector<std::string> entries;
  switch (settings.pop3.bind) {
    case BindMode::kDefault:
      entries = settings.general.bind_addresses;
      break;
    case BindMode::kAll:
      entries = {"0.0.0.0", "::"};
      break;
    case BindMode::kList:
      entries = settings.pop3.listen;
      break;
  }
  if (entries.empty()) {
    return Error{settings.pop3.bind == BindMode::kList
                     ? "pop3.bind is \"list\" but pop3.listen names no address"
                     : "general.bind_addresses names no address"};
  }
  std::vector<SocketAddress> out;
  for (const auto& entry : entries) {
    auto resolved = resolve_bind_entry(entry, port);
    if (!resolved) return resolved.error();
    for (auto& address : *resolved) {
      if (std::find(out.begin(), out.end(), address) == out.end()) out.push_back(address);
    }
  }
  return out;
}

Result<UniqueFd> bind_listener(const SocketAddress& address) {
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Error::from_errno("cannot create a socket for " + address.to_string());
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (address.family() == AF_INET6) {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd.get(), address.get(), address.length()) < 0) {
    return Error::from_errno("cannot listen on " + address.to_string());
  }
  if (::listen(fd.get(), kListenBacklog) < 0) {
    return Error::from_errno("cannot listen on " + address.to_string());
  }
  return fd;
}

Result<std::vector<Listener>> open_service_listeners(const Settings& settings) {
  std::vector<Listener> listeners;
  auto add_port = [&](int port, bool implicit_tls) -> Status {
    auto addresses = resolve_service_addresses(settings, port);
    if (!addresses) return addresses.error();
    for (const auto& address : *addresses) {
      auto fd = bind_listener(address);
      if (!fd) return fd.error();
      listeners.push_back(Listener{std::move(*fd), address, implicit_tls});
    }
    return {};
  };
  if (auto s = add_port(settings.pop3.port, false); !s) return s.error();
  if (settings.pop3.implicit_ssl) {
    if (auto s = add_port(settings.pop3.ssl_port, true); !s) return s.error();
  }
  return listeners;
}

}  // namespace pop3d
