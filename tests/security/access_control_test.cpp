#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>

#include "security/access_control.hpp"
#include "security/connection_table.hpp"

namespace pop3d {

namespace {
IpKey ip(const char* text) {
  return *parse_ip_key(text);
}
}  // namespace

class AccessControlTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(AccessControlTest);
  CPPUNIT_TEST(precedence_follows_the_settings_page);
  CPPUNIT_TEST(disabled_lists_do_nothing);
  CPPUNIT_TEST(bad_list_entry_names_setting);
  CPPUNIT_TEST(connection_limits_total_and_per_address);
  CPPUNIT_TEST(session_policy_blocks_after_failures);
  CPPUNIT_TEST_SUITE_END();

  static AddressRules rules(bool blocked_on, bool safe_on) {
    Settings s;
    s.pop3.blocked_ips = {blocked_on, {"192.0.2.0/24", "2001:db8::/32"}};
    s.pop3.safe_ips = {safe_on, {"192.0.2.7"}};
    auto r = AddressRules::from(s);
    CPPUNIT_ASSERT(r.ok());
    return std::move(*r);
  }

 public:
  void precedence_follows_the_settings_page() {
    const AddressRules r = rules(true, true);
    CPPUNIT_ASSERT(check_address(r, ip("192.0.2.1"), false) == Refusal::kBlockedAddress);
    CPPUNIT_ASSERT(check_address(r, ip("2001:db8::5"), false) == Refusal::kBlockedAddress);
    // Safe overrules blocked...
    CPPUNIT_ASSERT(check_address(r, ip("192.0.2.7"), false) == Refusal::kNone);
    // ...but not anti-hammering.
    CPPUNIT_ASSERT(check_address(r, ip("192.0.2.7"), true) == Refusal::kAntiHammering);
    CPPUNIT_ASSERT(check_address(r, ip("198.51.100.1"), false) == Refusal::kNone);
    CPPUNIT_ASSERT(check_address(r, ip("198.51.100.1"), true) == Refusal::kAntiHammering);
  }

  void disabled_lists_do_nothing() {
    const AddressRules r = rules(false, false);
    CPPUNIT_ASSERT(check_address(r, ip("192.0.2.1"), false) == Refusal::kNone);
  }

  void bad_list_entry_names_setting() {
    Settings s;
    s.pop3.blocked_ips.list = {"192.0.2.0/24", "192.0.2.300"};
    auto r = AddressRules::from(s);
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT(r.error().message.find("pop3.blocked_ips.list") != std::string::npos);
    CPPUNIT_ASSERT(r.error().message.find("192.0.2.300") != std::string::npos);
  }

  void connection_limits_total_and_per_address() {
    auto t = ConnectionTable::create(8);
    CPPUNIT_ASSERT(t.ok());
    CPPUNIT_ASSERT(t->admit(101, ip("192.0.2.1"), 3, 2) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t->admit(102, ip("192.0.2.1"), 3, 2) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t->admit(103, ip("192.0.2.1"), 3, 2) == Admission::kTooManyFromAddress);
    CPPUNIT_ASSERT(t->admit(103, ip("192.0.2.2"), 3, 2) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t->admit(104, ip("192.0.2.3"), 3, 0) == Admission::kTooManyConnections);
    CPPUNIT_ASSERT_EQUAL(size_t{3}, t->active());
    t->release(101);  // e.g. the master reaping a dead worker
    CPPUNIT_ASSERT_EQUAL(size_t{2}, t->active());
    CPPUNIT_ASSERT(t->admit(104, ip("192.0.2.1"), 3, 2) == Admission::kAdmitted);
    { ConnectionSlot slot(&*t, 104); }
    CPPUNIT_ASSERT_EQUAL(size_t{2}, t->active());
  }

  void session_policy_blocks_after_failures() {
    auto table = AntiHammerTable::create_anonymous(64);
    CPPUNIT_ASSERT(table.ok());
    LocalAddressState state(*table, AntiHammerPolicy{2, 600, 60, 64});
    AntiHammerSessionPolicy policy(state, AntiHammerPolicy{2, 600, 60, 64}, ip("192.0.2.9"),
                                   "192.0.2.9");
    CPPUNIT_ASSERT(!policy.client_blocked());
    policy.login_failed();
    CPPUNIT_ASSERT(!policy.client_blocked());
    policy.login_failed();
    CPPUNIT_ASSERT(policy.client_blocked());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AccessControlTest);

}  // namespace pop3d
