// AddressState: what pop3d remembers about client addresses, for
// anti-hammering (and, in later steps, per-address connection counts),
// whichever back-end keeps it: this node's shared-memory table
// (LocalAddressState) or Redis for a whole cluster (RedisAddressState).
// The session code sees only this interface.
//
// Addresses are given as the client's; each back-end counts them under
// AntiHammerTable::key_for (IPv6 cut to its prefix). `now` is this host's
// monotonic clock, for the local table; Redis uses its own.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "security/anti_hammer_table.hpp"
#include "security/ip_list.hpp"
#include "util/result.hpp"

namespace pop3d {

class AddressState {
 public:
  virtual ~AddressState() = default;

  // Never fails: a back-end that cannot answer falls back on what this
  // node knows, within its time-out.
  virtual bool is_blocked(const IpKey& address, int64_t now) = 0;
  // Counts a failed login; true when this failure started a block.
  virtual bool record_failure(const IpKey& address, int64_t now) = 0;

  // For the administrator (--unblock, --show-blocked), who must hear when
  // the back-end could not be asked. unblock: false when nothing was blocked.
  virtual Result<bool> unblock(const IpKey& address) = 0;
  virtual Result<std::vector<BlockedAddress>> blocked(int64_t now) = 0;
};

// This node's shared-memory table, which every worker of the daemon maps.
class LocalAddressState : public AddressState {
 public:
  LocalAddressState(AntiHammerTable& table, AntiHammerPolicy policy)
      : table_(table), policy_(policy) {}

  bool is_blocked(const IpKey& address, int64_t now) override;
  bool record_failure(const IpKey& address, int64_t now) override;
  Result<bool> unblock(const IpKey& address) override;
  Result<std::vector<BlockedAddress>> blocked(int64_t now) override;

 private:
  AntiHammerTable& table_;
  AntiHammerPolicy policy_;
};

// "192.0.2.1", or "2001:db8::/64" for an IPv6 key cut to `ipv6_prefix`.
std::string describe_address_key(const IpKey& key, int ipv6_prefix);

}  // namespace pop3d
