#include <cppunit/extensions/HelperMacros.h>

#include "security/ip_list.hpp"

namespace pop3d {

class IpListTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(IpListTest);
  CPPUNIT_TEST(single_addresses);
  CPPUNIT_TEST(cidr_edges);
  CPPUNIT_TEST(ranges_and_wildcards);
  CPPUNIT_TEST(bad_entries_are_named);
  CPPUNIT_TEST_SUITE_END();

  static IpList make(std::vector<std::string> entries) {
    auto r = IpList::parse(entries);
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    return *r;
  }

 public:
  void single_addresses() {
    IpList l = make({"127.0.0.1", "::1"});
    CPPUNIT_ASSERT(l.contains("127.0.0.1"));
    CPPUNIT_ASSERT(l.contains("::1"));
    CPPUNIT_ASSERT(!l.contains("127.0.0.2"));
    CPPUNIT_ASSERT(!l.contains("::2"));
    CPPUNIT_ASSERT(!l.contains("garbage"));
  }

  void cidr_edges() {
    IpList l = make({"192.0.2.0/24", "2001:db8::/32", "10.0.0.0/8"});
    CPPUNIT_ASSERT(l.contains("192.0.2.0"));
    CPPUNIT_ASSERT(l.contains("192.0.2.255"));
    CPPUNIT_ASSERT(!l.contains("192.0.3.0"));
    CPPUNIT_ASSERT(!l.contains("192.0.1.255"));
    CPPUNIT_ASSERT(l.contains("10.255.255.255"));
    CPPUNIT_ASSERT(l.contains("2001:db8:ffff:ffff::1"));
    CPPUNIT_ASSERT(!l.contains("2001:db9::"));
    IpList everything = make({"0.0.0.0/0"});
    CPPUNIT_ASSERT(everything.contains("255.255.255.255"));
    CPPUNIT_ASSERT(!everything.contains("::1"));  // IPv4 /0 is IPv4 only
  }

  void ranges_and_wildcards() {
    IpList l = make({"192.0.2.10-192.0.2.99", "198.51.100.*", "203.*.*.*"});
    CPPUNIT_ASSERT(l.contains("192.0.2.10"));
    CPPUNIT_ASSERT(l.contains("192.0.2.99"));
    CPPUNIT_ASSERT(!l.contains("192.0.2.9"));
    CPPUNIT_ASSERT(!l.contains("192.0.2.100"));
    CPPUNIT_ASSERT(l.contains("198.51.100.0"));
    CPPUNIT_ASSERT(l.contains("198.51.100.255"));
    CPPUNIT_ASSERT(!l.contains("198.51.101.0"));
    CPPUNIT_ASSERT(l.contains("203.1.2.3"));
    IpList overlapping = make({"10.0.0.0/8", "10.1.0.0/16", "10.0.0.5"});
    CPPUNIT_ASSERT_EQUAL(size_t{1}, overlapping.interval_count());
  }

  void bad_entries_are_named() {
    for (const char* bad : {"300.1.1.1", "192.0.2.0/33", "::/129", "192.0.2.9-192.0.2.1",
                            "192.0.2.1-::1", "*", "192.*.2.1", "1.2.3.4.5.*", "abc"}) {
      auto r = IpList::parse({"127.0.0.1", bad});
      CPPUNIT_ASSERT_MESSAGE(bad, !r.ok());
      CPPUNIT_ASSERT_MESSAGE(r.error().message, r.error().message.find(bad) != std::string::npos);
    }
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(IpListTest);

}  // namespace pop3d
