// general.max_connections_per_ip counts IPv6 clients per network of
// general.anti_hammering.ipv6_prefix bits, as anti-hammering does: a host
// with a /64 of its own must not get max_connections_per_ip sessions for
// every one of its 2^64 addresses.
#include <cppunit/extensions/HelperMacros.h>

#include "config/settings.hpp"
#include "security/anti_hammer_table.hpp"
#include "security/connection_table.hpp"

namespace pop3d {

namespace {
IpKey ip(const char* text) {
  return *parse_ip_key(text);
}

// Far more slots than any test uses, so only the per-address limit refuses.
constexpr size_t kSlots = 16;
constexpr size_t kTotal = 16;
}  // namespace

class PerPrefixTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(PerPrefixTest);
  CPPUNIT_TEST(addresses_of_one_slash64_share_the_limit);
  CPPUNIT_TEST(other_networks_have_their_own_count);
  CPPUNIT_TEST(prefix_128_counts_each_address);
  CPPUNIT_TEST(shorter_prefix_groups_more);
  CPPUNIT_TEST(ipv4_is_counted_per_address_whatever_the_prefix);
  CPPUNIT_TEST(released_slot_frees_the_network);
  CPPUNIT_TEST(same_network_as_anti_hammering);
  CPPUNIT_TEST_SUITE_END();

  static ConnectionTable table() {
    auto t = ConnectionTable::create(kSlots);
    CPPUNIT_ASSERT(t.ok());
    return std::move(*t);
  }

 public:
  void addresses_of_one_slash64_share_the_limit() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(t.admit(101, ip("2001:db8:1:2::1"), kTotal, 2, 64) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(102, ip("2001:db8:1:2:ffff:ffff:ffff:fffe"), kTotal, 2, 64) ==
                   Admission::kAdmitted);
    // A third address of the same /64, never seen before, is still the
    // same client.
    CPPUNIT_ASSERT(t.admit(103, ip("2001:db8:1:2:a:b:c:d"), kTotal, 2, 64) ==
                   Admission::kTooManyFromAddress);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, t.active());
  }

  void other_networks_have_their_own_count() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(t.admit(101, ip("2001:db8:1:2::1"), kTotal, 1, 64) == Admission::kAdmitted);
    // The neighbouring /64 (last bit of the prefix differs) and a network
    // far away are counted apart.
    CPPUNIT_ASSERT(t.admit(102, ip("2001:db8:1:3::1"), kTotal, 1, 64) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(103, ip("2001:db8:ffff:2::1"), kTotal, 1, 64) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(104, ip("2001:db8:1:2::2"), kTotal, 1, 64) ==
                   Admission::kTooManyFromAddress);
  }

  void prefix_128_counts_each_address() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(t.admit(101, ip("2001:db8::1"), kTotal, 1, 128) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(102, ip("2001:db8::2"), kTotal, 1, 128) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(103, ip("2001:db8::1"), kTotal, 1, 128) ==
                   Admission::kTooManyFromAddress);
  }

  void shorter_prefix_groups_more() {
    ConnectionTable t = table();
    // /48: two /64s of one site are one count.
    CPPUNIT_ASSERT(t.admit(101, ip("2001:db8:1:2::1"), kTotal, 1, 48) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(102, ip("2001:db8:1:7::1"), kTotal, 1, 48) ==
                   Admission::kTooManyFromAddress);
    CPPUNIT_ASSERT(t.admit(102, ip("2001:db8:2:7::1"), kTotal, 1, 48) == Admission::kAdmitted);
  }

  void ipv4_is_counted_per_address_whatever_the_prefix() {
    ConnectionTable t = table();
    // Mapped IPv4 sits in ::ffff:0:0/96: a prefix applied to it would lump
    // all of IPv4 into one count.
    CPPUNIT_ASSERT(t.admit(101, ip("192.0.2.1"), kTotal, 1, 64) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(102, ip("192.0.2.2"), kTotal, 1, 64) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(103, ip("198.51.100.1"), kTotal, 1, 1) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(104, ip("192.0.2.1"), kTotal, 1, 64) == Admission::kTooManyFromAddress);
  }

  void released_slot_frees_the_network() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(t.admit(101, ip("2001:db8::1"), kTotal, 1, 64) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(102, ip("2001:db8::2"), kTotal, 1, 64) ==
                   Admission::kTooManyFromAddress);
    t.release(101);
    CPPUNIT_ASSERT(t.admit(102, ip("2001:db8::2"), kTotal, 1, 64) == Admission::kAdmitted);
  }

  // Both limits must group clients the same way, or an address that
  // anti-hammering treats as one client could open a session per address.
  void same_network_as_anti_hammering() {
    const IpKey a = ip("2001:db8:5:6:1::1");
    const IpKey b = ip("2001:db8:5:6:2::2");
    CPPUNIT_ASSERT(AntiHammerTable::key_for(a, 64) == AntiHammerTable::key_for(b, 64));
    ConnectionTable t = table();
    CPPUNIT_ASSERT(t.admit(101, a, kTotal, 1, 64) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(102, b, kTotal, 1, 64) == Admission::kTooManyFromAddress);
    // Without a prefix, admit() groups by the settings' default one.
    CPPUNIT_ASSERT_EQUAL(64, Settings{}.general.anti_hammering.ipv6_prefix);
    CPPUNIT_ASSERT(t.admit(102, b, kTotal, 1) == Admission::kTooManyFromAddress);
    CPPUNIT_ASSERT(t.admit(102, ip("2001:db8:5:7::1"), kTotal, 1) == Admission::kAdmitted);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PerPrefixTest);

}  // namespace pop3d
