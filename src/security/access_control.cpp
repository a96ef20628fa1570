#include "security/access_control.hpp"

#include "log/logger.hpp"

namespace pop3d {

Result<AddressRules> AddressRules::from(const Settings& settings) {
  AddressRules rules;
  rules.blocked_enabled = settings.pop3.blocked_ips.enabled;
  rules.safe_enabled = settings.pop3.safe_ips.enabled;
  auto blocked = IpList::parse(settings.pop3.blocked_ips.list);
  if (!blocked) return Error{"pop3.blocked_ips.list: " + blocked.error().message};
  auto safe = IpList::parse(settings.pop3.safe_ips.list);
  if (!safe) return Error{"pop3.safe_ips.list: " + safe.error().message};
  rules.blocked = std::move(*blocked);
  rules.safe = std::move(*safe);
  return rules;
}

AntiHammerPolicy anti_hammer_policy(const Settings& s) {
  const auto& ah = s.general.anti_hammering;
  return AntiHammerPolicy{ah.max_failures, ah.failure_timeout.count(), ah.block_time.count(),
                          ah.ipv6_prefix};
}

Refusal check_address(const AddressRules& rules, const IpKey& address, bool hammer_blocked) {
  if (hammer_blocked) return Refusal::kAntiHammering;
  if (rules.safe_enabled && rules.safe.contains(address)) return Refusal::kNone;
  if (rules.blocked_enabled && rules.blocked.contains(address)) return Refusal::kBlockedAddress;
  return Refusal::kNone;
}

const char* refusal_reply(Refusal r) {
  switch (r) {
    case Refusal::kNone:
      return "";
    case Refusal::kAntiHammering:
      return "-ERR [SYS/TEMP] Too many failed logins from your address; it is temporarily "
             "blocked\r\n";
    case Refusal::kBlockedAddress:
      return "-ERR [SYS/PERM] Access from your address is not allowed\r\n";
    case Refusal::kTooManyConnections:
      return "-ERR [SYS/TEMP] Too many connections; try again later\r\n";
    case Refusal::kTooManyFromAddress:
      return "-ERR [SYS/TEMP] Too many connections from your address; try again later\r\n";
  }
  return "-ERR\r\n";
}

const char* refusal_name(Refusal r) {
  switch (r) {
    case Refusal::kNone:
      return "none";
    case Refusal::kAntiHammering:
      return "anti-hammering";
    case Refusal::kBlockedAddress:
      return "blocked-address";
    case Refusal::kTooManyConnections:
      return "too-many-connections";
    case Refusal::kTooManyFromAddress:
      return "too-many-from-address";
  }
  return "unknown";
}

bool AntiHammerSessionPolicy::client_blocked() {
  return state_.is_blocked(client_, AntiHammerTable::now());
}

void AntiHammerSessionPolicy::login_failed() {
  if (state_.record_failure(client_, AntiHammerTable::now())) {
    log_notice("anti-hammering: client=" + client_text_ + " blocked for " +
               std::to_string(policy_.block_time) + "s after " +
               std::to_string(policy_.max_failures) + " failed logins");
  }
}

}  // namespace pop3d
