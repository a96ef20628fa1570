#include <cppunit/extensions/HelperMacros.h>

#include <netinet/in.h>

#include <string>
#include <string_view>

#include "net/proxy_header.hpp"
#include "util/crc32c.hpp"

namespace pop3d {

namespace {

// The v2 headers below are written out octet by octet; the expected
// addresses are what those octets say, worked out by hand.
const std::string kSig("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A", 12);
// 192.0.2.1 -> 198.51.100.7, ports 56324 (0xDC04) -> 110 (0x006E).
const std::string kTcp4Block(
    "\xC0\x00\x02\x01"
    "\xC6\x33\x64\x07"
    "\xDC\x04\x00\x6E",
    12);
// 2001:db8::1 -> 2001:db8::2, ports 443 (0x01BB) -> 995 (0x03E3).
const std::string kTcp6Block(
    "\x20\x01\x0D\xB8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
    "\x20\x01\x0D\xB8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"
    "\x01\xBB\x03\xE3",
    36);

std::string bytes(std::initializer_list<int> octets) {
  std::string s;
  for (int o : octets) s += static_cast<char>(o);
  return s;
}

// The 16-octet fixed part: signature, version/command, family, length.
std::string fixed(int ver_cmd, int family, int length) {
  return kSig + bytes({ver_cmd, family, length >> 8, length & 0xFF});
}

Result<ProxyHeader> parse(const std::string& s) {
  return parse_proxy_header(s);
}

std::string error_of(const std::string& s) {
  Result<ProxyHeader> r = parse(s);
  return r.ok() ? std::string("(parsed)") : r.error().message;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

class ProxyHeaderTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ProxyHeaderTest);
  CPPUNIT_TEST(crc32c_check_value);
  CPPUNIT_TEST(crc32c_continues_a_sum);
  CPPUNIT_TEST(v1_tcp4);
  CPPUNIT_TEST(v1_tcp6);
  CPPUNIT_TEST(v1_unknown);
  CPPUNIT_TEST(v1_longest_line_is_accepted);
  CPPUNIT_TEST(v1_over_long_line);
  CPPUNIT_TEST(v1_missing_or_bare_crlf);
  CPPUNIT_TEST(v1_bad_address);
  CPPUNIT_TEST(v1_family_mismatch);
  CPPUNIT_TEST(v1_bad_port);
  CPPUNIT_TEST(v1_bad_fields);
  CPPUNIT_TEST(v2_proxy_tcp4);
  CPPUNIT_TEST(v2_proxy_tcp6);
  CPPUNIT_TEST(v2_local);
  CPPUNIT_TEST(v2_unspec);
  CPPUNIT_TEST(v2_bad_version);
  CPPUNIT_TEST(v2_bad_command);
  CPPUNIT_TEST(v2_udp_and_unix_refused);
  CPPUNIT_TEST(v2_unknown_family_refused);
  CPPUNIT_TEST(v2_truncated_address_block);
  CPPUNIT_TEST(v2_truncated_tlv);
  CPPUNIT_TEST(v2_unknown_tlv_skipped);
  CPPUNIT_TEST(v2_good_crc);
  CPPUNIT_TEST(v2_bad_crc);
  CPPUNIT_TEST(v2_ssl_with_client_ssl);
  CPPUNIT_TEST(v2_ssl_without_client_ssl);
  CPPUNIT_TEST(v2_bad_ssl_tlv);
  CPPUNIT_TEST(v2_length_limit);
  CPPUNIT_TEST(length_is_zero_on_every_proper_prefix);
  CPPUNIT_TEST(length_refuses_wrong_signatures_early);
  CPPUNIT_TEST(parse_wants_exactly_one_header);
  CPPUNIT_TEST_SUITE_END();

 public:
  void crc32c_check_value() {
    CPPUNIT_ASSERT_EQUAL(uint32_t{0xE3069283}, crc32c("123456789"));
    CPPUNIT_ASSERT_EQUAL(uint32_t{0}, crc32c(""));
  }

  void crc32c_continues_a_sum() {
    CPPUNIT_ASSERT_EQUAL(crc32c("123456789"), crc32c("6789", crc32c("12345")));
  }

  void v1_tcp4() {
    auto r = parse("PROXY TCP4 192.0.2.1 198.51.100.7 56324 110\r\n");
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(1, r->version);
    CPPUNIT_ASSERT(!r->keeps_real_addresses);
    CPPUNIT_ASSERT_EQUAL(AF_INET, r->source.family());
    CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.1:56324"), r->source.to_string());
    CPPUNIT_ASSERT_EQUAL(std::string("198.51.100.7:110"), r->destination.to_string());
    CPPUNIT_ASSERT(!r->client_tls);
    // Port 0 is in the spec's range and written as a single zero.
    CPPUNIT_ASSERT(parse("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n").ok());
  }

  void v1_tcp6() {
    auto r = parse("PROXY TCP6 2001:db8::1 2001:DB8::2 443 995\r\n");
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(AF_INET6, r->source.family());
    CPPUNIT_ASSERT_EQUAL(std::string("[2001:db8::1]:443"), r->source.to_string());
    CPPUNIT_ASSERT_EQUAL(std::string("[2001:db8::2]:995"), r->destination.to_string());
  }

  void v1_unknown() {
    auto bare = parse("PROXY UNKNOWN\r\n");
    CPPUNIT_ASSERT(bare.ok());
    CPPUNIT_ASSERT_EQUAL(1, bare->version);
    CPPUNIT_ASSERT(bare->keeps_real_addresses);
    // "the receiver must ignore anything presented before the CRLF".
    auto rest = parse("PROXY UNKNOWN ffff::1 whatever 99999 x\r\n");
    CPPUNIT_ASSERT(rest.ok());
    CPPUNIT_ASSERT(rest->keeps_real_addresses);
    CPPUNIT_ASSERT(!parse("PROXY UNKNOWNX\r\n").ok());
  }

  void v1_longest_line_is_accepted() {
    const std::string six = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const std::string tcp6 = "PROXY TCP6 " + six + " " + six + " 65535 65535\r\n";
    CPPUNIT_ASSERT_EQUAL(size_t{104}, tcp6.size());
    CPPUNIT_ASSERT(parse(tcp6).ok());
    const std::string worst = "PROXY UNKNOWN " + six + " " + six + " 65535 65535\r\n";
    CPPUNIT_ASSERT_EQUAL(size_t{107}, worst.size());
    auto len = proxy_header_length(worst);
    CPPUNIT_ASSERT(len.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{107}, *len);
    CPPUNIT_ASSERT(parse(worst).ok());
  }

  void v1_over_long_line() {
    const std::string six = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    // 108 octets with the CRLF: one too many.
    const std::string line = "PROXY UNKNOWN " + six + " " + six + " 65535 655350\r\n";
    CPPUNIT_ASSERT_EQUAL(size_t{108}, line.size());
    CPPUNIT_ASSERT(!proxy_header_length(line).ok());
    // 106 octets and no CR yet: the CRLF can no longer fit.
    CPPUNIT_ASSERT(!proxy_header_length("PROXY " + std::string(100, 'x')).ok());
    auto short_yet = proxy_header_length("PROXY " + std::string(99, 'x'));
    CPPUNIT_ASSERT(short_yet.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{0}, *short_yet);
  }

  void v1_missing_or_bare_crlf() {
    auto len = proxy_header_length("PROXY TCP4 192.0.2.1 198.51.100.7 56324 110");
    CPPUNIT_ASSERT(len.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{0}, *len);
    CPPUNIT_ASSERT(contains(error_of("PROXY TCP4 192.0.2.1 198.51.100.7 56324 110"), "incomplete"));
    CPPUNIT_ASSERT(!proxy_header_length("PROXY TCP4 192.0.2.1 198.51.100.7 56324 110\n").ok());
    CPPUNIT_ASSERT(!proxy_header_length("PROXY TCP4 192.0.2.1 198.51.100.7 56324 110\rX").ok());
  }

  void v1_bad_address() {
    CPPUNIT_ASSERT(contains(error_of("PROXY TCP4 192.0.2.300 198.51.100.7 1 2\r\n"), "source"));
    CPPUNIT_ASSERT(contains(error_of("PROXY TCP4 192.0.2.1 host.example 1 2\r\n"), "destination"));
    // Leading zeros could be read as octal: the spec forbids them.
    CPPUNIT_ASSERT(!parse("PROXY TCP4 192.0.2.01 198.51.100.7 1 2\r\n").ok());
    CPPUNIT_ASSERT(!parse("PROXY TCP4 192.0.2 198.51.100.7 1 2\r\n").ok());
    // A NUL must not cut the address short for inet_pton.
    static constexpr char kNul[] = "PROXY TCP4 192.0.2.1\0x 198.51.100.7 1 2\r\n";
    CPPUNIT_ASSERT(!parse(std::string(kNul, sizeof kNul - 1)).ok());
    CPPUNIT_ASSERT(!parse("PROXY TCP6 2001:db8:::1 2001:db8::2 1 2\r\n").ok());
    CPPUNIT_ASSERT(!parse("PROXY TCP6 [2001:db8::1] 2001:db8::2 1 2\r\n").ok());
  }

  void v1_family_mismatch() {
    CPPUNIT_ASSERT(!parse("PROXY TCP4 2001:db8::1 2001:db8::2 1 2\r\n").ok());
    CPPUNIT_ASSERT(!parse("PROXY TCP4 192.0.2.1 2001:db8::2 1 2\r\n").ok());
    CPPUNIT_ASSERT(!parse("PROXY TCP6 192.0.2.1 198.51.100.7 1 2\r\n").ok());
  }

  void v1_bad_port() {
    const std::string head = "PROXY TCP4 192.0.2.1 198.51.100.7 ";
    CPPUNIT_ASSERT(contains(error_of(head + "65536 110\r\n"), "source port"));
    CPPUNIT_ASSERT(contains(error_of(head + "1 -1\r\n"), "destination port"));
    CPPUNIT_ASSERT(!parse(head + "+1 110\r\n").ok());
    CPPUNIT_ASSERT(!parse(head + "0110 110\r\n").ok());  // leading zero
    CPPUNIT_ASSERT(!parse(head + "1 11a\r\n").ok());
    CPPUNIT_ASSERT(!parse(head + "1 999999\r\n").ok());
  }

  void v1_bad_fields() {
    CPPUNIT_ASSERT(!parse("PROXY TCP4 192.0.2.1  198.51.100.7 1 2\r\n").ok());  // double space
    CPPUNIT_ASSERT(!parse("PROXY TCP4 192.0.2.1 198.51.100.7 1 2 \r\n").ok());  // trailing space
    CPPUNIT_ASSERT(!parse("PROXY TCP4 192.0.2.1 198.51.100.7 1 2 3\r\n").ok());
    CPPUNIT_ASSERT(!parse("PROXY TCP4 192.0.2.1 198.51.100.7 1\r\n").ok());
    CPPUNIT_ASSERT(!parse("PROXY UDP4 192.0.2.1 198.51.100.7 1 2\r\n").ok());
    CPPUNIT_ASSERT(!parse("PROXY tcp4 192.0.2.1 198.51.100.7 1 2\r\n").ok());
    CPPUNIT_ASSERT(!parse("PROXY \r\n").ok());
    CPPUNIT_ASSERT(!proxy_header_length("PROXY\tTCP4").ok());
  }

  void v2_proxy_tcp4() {
    const std::string h = fixed(0x21, 0x11, 12) + kTcp4Block;
    auto len = proxy_header_length(h);
    CPPUNIT_ASSERT(len.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{28}, *len);
    auto r = parse(h);
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(2, r->version);
    CPPUNIT_ASSERT(!r->keeps_real_addresses);
    CPPUNIT_ASSERT_EQUAL(AF_INET, r->source.family());
    CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.1:56324"), r->source.to_string());
    CPPUNIT_ASSERT_EQUAL(std::string("198.51.100.7:110"), r->destination.to_string());
    CPPUNIT_ASSERT(!r->client_tls);
    CPPUNIT_ASSERT(r->tls_version.empty());
  }

  void v2_proxy_tcp6() {
    auto r = parse(fixed(0x21, 0x21, 36) + kTcp6Block);
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(AF_INET6, r->source.family());
    CPPUNIT_ASSERT_EQUAL(std::string("[2001:db8::1]:443"), r->source.to_string());
    CPPUNIT_ASSERT_EQUAL(std::string("[2001:db8::2]:995"), r->destination.to_string());
  }

  void v2_local() {
    auto r = parse(fixed(0x20, 0x00, 0));
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT_EQUAL(2, r->version);
    CPPUNIT_ASSERT(r->keeps_real_addresses);
    // The block is skipped by its length, whatever the family says, even
    // one pop3d would refuse with PROXY.
    auto with_block = parse(fixed(0x20, 0x11, 12) + kTcp4Block);
    CPPUNIT_ASSERT(with_block.ok());
    CPPUNIT_ASSERT(with_block->keeps_real_addresses);
    CPPUNIT_ASSERT(parse(fixed(0x20, 0x12, 3) + "abc").ok());
  }

  void v2_unspec() {
    auto r = parse(fixed(0x21, 0x00, 0));
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT(r->keeps_real_addresses);
    CPPUNIT_ASSERT(parse(fixed(0x21, 0x00, 4) + "junk").ok());
  }

  void v2_bad_version() {
    CPPUNIT_ASSERT(!proxy_header_length(fixed(0x11, 0x11, 12) + kTcp4Block).ok());
    CPPUNIT_ASSERT(!proxy_header_length(kSig + bytes({0x31})).ok());  // told at octet 13
    CPPUNIT_ASSERT(contains(error_of(fixed(0x01, 0x11, 12) + kTcp4Block), "version"));
  }

  void v2_bad_command() {
    CPPUNIT_ASSERT(contains(error_of(fixed(0x22, 0x11, 12) + kTcp4Block), "command"));
    CPPUNIT_ASSERT(!parse(fixed(0x2F, 0x11, 12) + kTcp4Block).ok());
  }

  void v2_udp_and_unix_refused() {
    CPPUNIT_ASSERT(contains(error_of(fixed(0x21, 0x12, 12) + kTcp4Block), "TCP only"));
    CPPUNIT_ASSERT(!parse(fixed(0x21, 0x22, 36) + kTcp6Block).ok());
    CPPUNIT_ASSERT(!parse(fixed(0x21, 0x31, 216) + std::string(216, 'u')).ok());
    CPPUNIT_ASSERT(!parse(fixed(0x21, 0x32, 216) + std::string(216, 'u')).ok());
  }

  void v2_unknown_family_refused() {
    CPPUNIT_ASSERT(!parse(fixed(0x21, 0x41, 12) + kTcp4Block).ok());
    CPPUNIT_ASSERT(!parse(fixed(0x21, 0x13, 12) + kTcp4Block).ok());
    CPPUNIT_ASSERT(!parse(fixed(0x21, 0x10, 12) + kTcp4Block).ok());
  }

  void v2_truncated_address_block() {
    CPPUNIT_ASSERT(
        contains(error_of(fixed(0x21, 0x11, 8) + kTcp4Block.substr(0, 8)), "address block"));
    CPPUNIT_ASSERT(!parse(fixed(0x21, 0x21, 12) + kTcp4Block).ok());  // IPv6 needs 36
  }

  void v2_truncated_tlv() {
    // Two octets after the addresses: not even a TLV's type and length.
    CPPUNIT_ASSERT(
        contains(error_of(fixed(0x21, 0x11, 14) + kTcp4Block + bytes({0x04, 0x00})), "TLV"));
    // A NOOP announcing 5 octets of which 2 are there.
    CPPUNIT_ASSERT(
        !parse(fixed(0x21, 0x11, 17) + kTcp4Block + bytes({0x04, 0x00, 0x05, 1, 2})).ok());
  }

  void v2_unknown_tlv_skipped() {
    // A custom TLV (0xE0) of 3 octets, an empty NOOP, an authority (SNI).
    const std::string tlvs = bytes({0xE0, 0x00, 0x03}) + "abc" + bytes({0x04, 0x00, 0x00}) +
                             bytes({0x02, 0x00, 0x0B}) + "example.org";
    CPPUNIT_ASSERT_EQUAL(size_t{23}, tlvs.size());
    auto r = parse(fixed(0x21, 0x11, 12 + 23) + kTcp4Block + tlvs);
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.1:56324"), r->source.to_string());
  }

  // The CRC32C value 0xE2326C59 was computed outside this code: by a
  // bitwise CRC32C in python3 (crc = 0xFFFFFFFF; per byte crc ^= b, then
  // 8 times crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0); result
  // crc ^ 0xFFFFFFFF; it gives 0xE3069283 for "123456789") over this very
  // header with the four value octets zeroed.
  static std::string crc_header() {
    return fixed(0x21, 0x11, 19) + kTcp4Block + bytes({0x03, 0x00, 0x04, 0xE2, 0x32, 0x6C, 0x59});
  }

  void v2_good_crc() {
    auto r = parse(crc_header());
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("198.51.100.7:110"), r->destination.to_string());
  }

  void v2_bad_crc() {
    std::string h = crc_header();
    h[h.size() - 1] ^= 0x01;  // the checksum itself
    CPPUNIT_ASSERT(contains(error_of(h), "CRC32C"));
    h = crc_header();
    h[17] ^= 0x01;  // the source address: 192.0.2.1 -> 192.1.2.1
    CPPUNIT_ASSERT(contains(error_of(h), "CRC32C"));
    // A CRC32C TLV must be 4 octets.
    CPPUNIT_ASSERT(
        !parse(fixed(0x21, 0x11, 18) + kTcp4Block + bytes({0x03, 0x00, 0x03, 1, 2, 3})).ok());
  }

  void v2_ssl_with_client_ssl() {
    // PP2_TYPE_SSL, 15 octets: client 0x01 (PP2_CLIENT_SSL), verify 0,
    // then PP2_SUBTYPE_SSL_VERSION "TLSv1.3" (3 + 7 octets).
    const std::string ssl =
        bytes({0x20, 0x00, 0x0F, 0x01, 0, 0, 0, 0}) + bytes({0x21, 0x00, 0x07}) + "TLSv1.3";
    auto r = parse(fixed(0x21, 0x11, 12 + 18) + kTcp4Block + ssl);
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT(r->client_tls);
    CPPUNIT_ASSERT_EQUAL(std::string("TLSv1.3"), r->tls_version);
  }

  void v2_ssl_without_client_ssl() {
    // Client flags 0x06 (certificate flags only, no PP2_CLIENT_SSL), a CN sub-TLV.
    const std::string ssl =
        bytes({0x20, 0x00, 0x0A, 0x06, 0, 0, 0, 1}) + bytes({0x22, 0x00, 0x02}) + "cn";
    auto r = parse(fixed(0x21, 0x11, 12 + 13) + kTcp4Block + ssl);
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT(!r->client_tls);
    CPPUNIT_ASSERT(r->tls_version.empty());
  }

  void v2_bad_ssl_tlv() {
    // Shorter than client + verify.
    CPPUNIT_ASSERT(
        !parse(fixed(0x21, 0x11, 12 + 7) + kTcp4Block + bytes({0x20, 0x00, 0x04, 1, 0, 0, 0}))
             .ok());
    // A sub-TLV that runs past its SSL TLV.
    const std::string ssl = bytes({0x20, 0x00, 0x08, 0x01, 0, 0, 0, 0, 0x21, 0x00, 0x07});
    CPPUNIT_ASSERT(contains(error_of(fixed(0x21, 0x11, 12 + 11) + kTcp4Block + ssl), "TLV"));
    // A version string with a control octet is kept escaped for the log.
    const std::string odd =
        bytes({0x20, 0x00, 0x0A, 0x01, 0, 0, 0, 0, 0x21, 0x00, 0x02, 'v', 0x0A});
    auto r = parse(fixed(0x21, 0x11, 12 + 13) + kTcp4Block + odd);
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("v\\x0a"), r->tls_version);
  }

  void v2_length_limit() {
    // 16 + 1024 = kProxyV2MaxLength: accepted; one more octet: refused.
    const std::string at_limit = fixed(0x21, 0x11, 1024) + kTcp4Block + bytes({0xE0, 0x03, 0xF1}) +
                                 std::string(1024 - 12 - 3, 'p');
    CPPUNIT_ASSERT_EQUAL(kProxyV2MaxLength, at_limit.size());
    auto len = proxy_header_length(at_limit);
    CPPUNIT_ASSERT(len.ok());
    CPPUNIT_ASSERT_EQUAL(kProxyV2MaxLength, *len);
    CPPUNIT_ASSERT(parse(at_limit).ok());
    CPPUNIT_ASSERT(!proxy_header_length(fixed(0x21, 0x11, 1025)).ok());
    CPPUNIT_ASSERT(!proxy_header_length(fixed(0x21, 0x11, 0xFFFF)).ok());
  }

  void length_is_zero_on_every_proper_prefix() {
    const std::string ssl =
        bytes({0x20, 0x00, 0x0F, 0x01, 0, 0, 0, 0}) + bytes({0x21, 0x00, 0x07}) + "TLSv1.3";
    const std::string headers[] = {
        "PROXY TCP4 192.0.2.1 198.51.100.7 56324 110\r\n",
        "PROXY TCP6 2001:db8::1 2001:db8::2 443 995\r\n",
        "PROXY UNKNOWN\r\n",
        fixed(0x21, 0x11, 12 + 18) + kTcp4Block + ssl,
        fixed(0x21, 0x21, 36) + kTcp6Block,
        fixed(0x20, 0x00, 0),
        crc_header(),
    };
    for (const std::string& h : headers) {
      for (size_t n = 0; n < h.size(); ++n) {
        auto len = proxy_header_length(std::string_view(h).substr(0, n));
        CPPUNIT_ASSERT_MESSAGE("prefix " + std::to_string(n), len.ok());
        // A v2 header tells its length at octet 16, before it is whole.
        if (h[0] == 'P' || n < 16) {
          CPPUNIT_ASSERT_EQUAL_MESSAGE("prefix " + std::to_string(n), size_t{0}, *len);
        } else {
          CPPUNIT_ASSERT_EQUAL(h.size(), *len);
        }
        CPPUNIT_ASSERT(!parse_proxy_header(std::string_view(h).substr(0, n)).ok());
      }
      auto whole = proxy_header_length(h + "\x16\x03\x01");
      CPPUNIT_ASSERT(whole.ok());
      CPPUNIT_ASSERT_EQUAL(h.size(), *whole);
      CPPUNIT_ASSERT(parse(h).ok());
    }
  }

  void length_refuses_wrong_signatures_early() {
    CPPUNIT_ASSERT(!proxy_header_length("USER alice\r\n").ok());
    CPPUNIT_ASSERT(!proxy_header_length("\x16\x03\x01").ok());  // a TLS ClientHello
    CPPUNIT_ASSERT(!proxy_header_length("PROXX").ok());
    CPPUNIT_ASSERT(!proxy_header_length("\r\n\r\n\x01").ok());
    auto p = proxy_header_length("PRO");
    CPPUNIT_ASSERT(p.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{0}, *p);
  }

  void parse_wants_exactly_one_header() {
    CPPUNIT_ASSERT(contains(error_of("PROXY UNKNOWN\r\nUSER x\r\n"), "after the header"));
    CPPUNIT_ASSERT(!parse(fixed(0x21, 0x11, 12) + kTcp4Block + "+").ok());
    CPPUNIT_ASSERT(!parse("").ok());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ProxyHeaderTest);

}  // namespace pop3d
