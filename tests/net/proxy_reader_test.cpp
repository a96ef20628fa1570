#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>

#include "net/proxy_reader.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

namespace {

using namespace std::chrono_literals;

// The start of a TLS ClientHello: what follows the header on the
// implicit-TLS port, and must still be there for the TLS layer.
const std::string kHello("\x16\x03\x01\x00\x05hello", 10);

// v2 PROXY TCP4 192.0.2.1:56324 -> 198.51.100.7:995, with an SSL TLV
// (PP2_CLIENT_SSL, version "TLSv1.3"): 16 + 12 + 18 octets.
const std::string kV2Header = std::string("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A", 12) +
                              std::string("\x21\x11\x00\x1E", 4) +
                              std::string("\xC0\x00\x02\x01\xC6\x33\x64\x07\xDC\x04\x03\xE3", 12) +
                              std::string("\x20\x00\x0F\x01\x00\x00\x00\x00\x21\x00\x07", 11) +
                              "TLSv1.3";

const std::string kV1Header = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 995\r\n";

// A connected pair: `reader` is non-blocking, as the worker's sockets are.
struct Pair {
  UniqueFd reader;
  UniqueFd writer;
};

Pair unix_pair() {
  int fds[2];
  CPPUNIT_ASSERT(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  Pair p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  CPPUNIT_ASSERT(::fcntl(p.reader.get(), F_SETFL, O_NONBLOCK) == 0);
  return p;
}

// Loopback TCP, where segments and Nagle make the timing real.
Pair tcp_pair() {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  CPPUNIT_ASSERT(listener);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CPPUNIT_ASSERT(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  CPPUNIT_ASSERT(::listen(listener.get(), 1) == 0);
  socklen_t len = sizeof a;
  CPPUNIT_ASSERT(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0);
  Pair p;
  p.writer = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  CPPUNIT_ASSERT(::connect(p.writer.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const int one = 1;
  ::setsockopt(p.writer.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  p.reader = UniqueFd(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  CPPUNIT_ASSERT(p.reader);
  return p;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Sends `data` one octet at a time with a pause after each.
void send_slowly(int fd, std::string data, std::chrono::milliseconds pause) {
  for (const char c : data) {
    send_all(fd, std::string_view(&c, 1));
    std::this_thread::sleep_for(pause);
  }
}

// Everything left on `fd` until the peer closes (at most 2 s).
std::string rest_of(int fd) {
  std::string out;
  char buf[512];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) return out + "(no EOF)";
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

class ProxyReaderTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ProxyReaderTest);
  CPPUNIT_TEST(v2_header_leaves_the_client_hello);
  CPPUNIT_TEST(v1_header_leaves_the_client_hello);
  CPPUNIT_TEST(v2_in_two_parts_leaves_the_client_hello);
  CPPUNIT_TEST(v2_in_one_octet_pieces);
  CPPUNIT_TEST(v1_in_one_octet_pieces_over_tcp);
  CPPUNIT_TEST(silent_peer_times_out);
  CPPUNIT_TEST(peer_closing_mid_header);
  CPPUNIT_TEST(long_v1_line_is_refused_within_the_limit);
  CPPUNIT_TEST(not_a_header_is_refused_unread);
  CPPUNIT_TEST_SUITE_END();

 public:
  void v2_header_leaves_the_client_hello() {
    Pair p = unix_pair();
    send_all(p.writer.get(), kV2Header + kHello);
    p.writer.reset();
    auto r = read_proxy_header(p.reader.get(), 1000ms);
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(2, r->version);
    CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.1:56324"), r->source.to_string());
    CPPUNIT_ASSERT_EQUAL(std::string("198.51.100.7:995"), r->destination.to_string());
    CPPUNIT_ASSERT(r->client_tls);
    CPPUNIT_ASSERT_EQUAL(std::string("TLSv1.3"), r->tls_version);
    CPPUNIT_ASSERT_EQUAL(kHello, rest_of(p.reader.get()));
  }

  void v1_header_leaves_the_client_hello() {
    Pair p = tcp_pair();
    send_all(p.writer.get(), kV1Header + kHello);
    p.writer.reset();
    auto r = read_proxy_header(p.reader.get(), 1000ms);
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(1, r->version);
    CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.1:56324"), r->source.to_string());
    CPPUNIT_ASSERT_EQUAL(kHello, rest_of(p.reader.get()));
  }

  void v2_in_two_parts_leaves_the_client_hello() {
    // The length is known after the first part; the second brings the
    // rest of the header and the hello in one write.
    Pair p = unix_pair();
    std::thread writer([&] {
      send_all(p.writer.get(), kV2Header.substr(0, 20));
      std::this_thread::sleep_for(20ms);
      send_all(p.writer.get(), kV2Header.substr(20) + kHello);
      p.writer.reset();
    });
    auto r = read_proxy_header(p.reader.get(), 2000ms);
    writer.join();
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(kHello, rest_of(p.reader.get()));
  }

  void v2_in_one_octet_pieces() {
    Pair p = unix_pair();
    std::thread writer([&] {
      send_slowly(p.writer.get(), kV2Header, 2ms);
      send_all(p.writer.get(), kHello);
      p.writer.reset();
    });
    auto r = read_proxy_header(p.reader.get(), 5000ms);
    writer.join();
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("TLSv1.3"), r->tls_version);
    CPPUNIT_ASSERT_EQUAL(kHello, rest_of(p.reader.get()));
  }

  void v1_in_one_octet_pieces_over_tcp() {
    Pair p = tcp_pair();
    std::thread writer([&] {
      send_slowly(p.writer.get(), kV1Header, 2ms);
      send_all(p.writer.get(), kHello);
      p.writer.reset();
    });
    auto r = read_proxy_header(p.reader.get(), 5000ms);
    writer.join();
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("198.51.100.7:995"), r->destination.to_string());
    CPPUNIT_ASSERT_EQUAL(kHello, rest_of(p.reader.get()));
  }

  void silent_peer_times_out() {
    Pair p = unix_pair();
    auto r = read_proxy_header(p.reader.get(), 200ms);
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT_MESSAGE(r.error().message, contains(r.error().message, "timed out"));
    // Part of a header, then silence: the same.
    send_all(p.writer.get(), "PROXY TCP4 ");
    auto partial = read_proxy_header(p.reader.get(), 200ms);
    CPPUNIT_ASSERT(!partial.ok());
    CPPUNIT_ASSERT_MESSAGE(partial.error().message, contains(partial.error().message, "timed out"));
  }

  void peer_closing_mid_header() {
    Pair p = unix_pair();
    std::thread writer([&] {
      send_all(p.writer.get(), kV2Header.substr(0, 22));
      std::this_thread::sleep_for(20ms);
      p.writer.reset();
    });
    auto r = read_proxy_header(p.reader.get(), 2000ms);
    writer.join();
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT_MESSAGE(r.error().message, contains(r.error().message, "closed by peer"));

    Pair q = tcp_pair();
    send_all(q.writer.get(), "PROXY TCP4 192.0.2.1");
    q.writer.reset();
    auto v1 = read_proxy_header(q.reader.get(), 2000ms);
    CPPUNIT_ASSERT(!v1.ok());
    CPPUNIT_ASSERT_MESSAGE(v1.error().message, contains(v1.error().message, "closed by peer"));
  }

  void long_v1_line_is_refused_within_the_limit() {
    // 306 octets with no CRLF, in two parts so that the first is consumed
    // while the reader waits for more.
    const std::string line = "PROXY " + std::string(300, 'x');
    Pair p = unix_pair();
    std::thread writer([&] {
      send_all(p.writer.get(), line.substr(0, 50));
      std::this_thread::sleep_for(20ms);
      send_all(p.writer.get(), line.substr(50));
      p.writer.reset();
    });
    auto r = read_proxy_header(p.reader.get(), 2000ms);
    writer.join();
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT_MESSAGE(r.error().message, contains(r.error().message, "107"));
    const std::string left = rest_of(p.reader.get());
    CPPUNIT_ASSERT_MESSAGE(std::to_string(left.size()) + " octets left",
                           left.size() >= line.size() - kProxyV1MaxLength);
    CPPUNIT_ASSERT(line.ends_with(left));
  }

  void not_a_header_is_refused_unread() {
    Pair p = unix_pair();
    send_all(p.writer.get(), kHello);
    p.writer.reset();
    auto r = read_proxy_header(p.reader.get(), 1000ms);
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT_MESSAGE(r.error().message, contains(r.error().message, "signature"));
    CPPUNIT_ASSERT_EQUAL(kHello, rest_of(p.reader.get()));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ProxyReaderTest);

}  // namespace pop3d
