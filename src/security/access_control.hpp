// Access control for each new connection and each login, in the order the
// settings page gives: an anti-hammering block always wins; then a safe
// address is let in even when a blocked range holds it; then a blocked
// address is refused; everything else is let in.
#pragma once

#include <string>

#include "config/settings.hpp"
#include "pop3/session.hpp"
#include "security/anti_hammer_table.hpp"
#include "security/ip_list.hpp"
#include "sharedstate/address_state.hpp"

namespace pop3d {

enum class Refusal {
  kNone,
  kAntiHammering,       // too many failed logins lately
  kBlockedAddress,      // in pop3.blocked_ips and not in pop3.safe_ips
  kTooManyConnections,  // pop3.max_connections sessions in progress
  kTooManyFromAddress,  // general.max_connections_per_ip from this address
};

// The address lists of one generation of settings.
struct AddressRules {
  bool blocked_enabled = false;
  IpList blocked;
  bool safe_enabled = false;
  IpList safe;

  // The error names the setting and the malformed entry.
  static Result<AddressRules> from(const Settings& settings);
};

AntiHammerPolicy anti_hammer_policy(const Settings& settings);

// The decision for an address, before any connection limit.
Refusal check_address(const AddressRules& rules, const IpKey& address, bool hammer_blocked);

// The one line a refused client gets, and the word its log line uses.
const char* refusal_reply(Refusal r);
const char* refusal_name(Refusal r);

// The session's view of anti-hammering: counts its failed logins in the
// node's AddressState (whichever back-end keeps it) and ends the session
// once the address is blocked, even after a right password.
class AntiHammerSessionPolicy : public SessionPolicy {
 public:
  AntiHammerSessionPolicy(AddressState& state, AntiHammerPolicy policy, IpKey client,
                          std::string client_text)
      : state_(state), policy_(policy), client_(client), client_text_(std::move(client_text)) {}

  bool client_blocked() override;
  void login_failed() override;

 private:
  AddressState& state_;
  AntiHammerPolicy policy_;
  IpKey client_;
  std::string client_text_;
};

}  // namespace pop3d
