#include <arpa/inet.h>

#include <cstring>

#include "log/logger.hpp"
#include "sharedstate/address_state.hpp"

namespace pop3d {

bool LocalAddressState::is_blocked(const IpKey& address, int64_t now) {
  return table_.is_blocked(address, policy_, now);
}

bool LocalAddressState::record_failure(const IpKey& address, int64_t now) {
  const uint64_t pressure_before = table_.pressure_events();
  // The table answers "blocked now"; a block already running is not news.
  const bool was_blocked = table_.is_blocked(address, policy_, now);
  const bool blocked = table_.record_failure(address, policy_, now);
  // Under a spray the table may stay full for long: say so at the 1st,
  // 2nd, 4th, 8th... eviction, not at every one.
  const uint64_t pressure = table_.pressure_events();
  if (pressure != pressure_before && (pressure & (pressure - 1)) == 0) {
    log_warning("anti-hammering: the table is full and entries give way (" +
                std::to_string(pressure) +
                " times so far); consider raising general.anti_hammering.table_size");
  }
  return blocked && !was_blocked;
}

Result<bool> LocalAddressState::unblock(const IpKey& address) {
  return table_.unblock(address, policy_);
}

Result<std::vector<BlockedAddress>> LocalAddressState::blocked(int64_t now) {
  return table_.blocked(policy_, now);
}

std::string describe_address_key(const IpKey& key, int ipv6_prefix) {
  static constexpr uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char buf[INET6_ADDRSTRLEN] = "";
  if (std::memcmp(key.data(), kV4Mapped, sizeof kV4Mapped) == 0) {
    ::inet_ntop(AF_INET, key.data() + 12, buf, sizeof buf);
    return buf;
  }
  ::inet_ntop(AF_INET6, key.data(), buf, sizeof buf);
  return ipv6_prefix < 128 ? std::string(buf) + "/" + std::to_string(ipv6_prefix) : buf;
}

}  // namespace pop3d
