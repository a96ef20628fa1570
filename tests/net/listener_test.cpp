#include <cppunit/extensions/HelperMacros.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>

#include "net/listener.hpp"
#include "net/socket_transport.hpp"

namespace pop3d {

namespace {

int bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return SocketAddress(reinterpret_cast<sockaddr*>(&ss), len).port();
}

bool has_ipv6_loopback() {
  UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto a = SocketAddress::parse_numeric("::1", 0);
  return fd && ::bind(fd.get(), a->get(), a->length()) == 0;
}

}  // namespace

class ListenerTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ListenerTest);
  CPPUNIT_TEST(numeric_addresses_parse_and_print);
  CPPUNIT_TEST(bind_modes_choose_addresses);
  CPPUNIT_TEST(host_name_resolves_to_loopback);
  CPPUNIT_TEST(unresolvable_name_is_named_in_error);
  CPPUNIT_TEST(port_in_use_is_named_in_error);
  CPPUNIT_TEST(transport_reads_writes_and_times_out);
  CPPUNIT_TEST_SUITE_END();

 public:
  void numeric_addresses_parse_and_print() {
    auto v4 = SocketAddress::parse_numeric("192.0.2.7", 110);
    CPPUNIT_ASSERT(v4);
    CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.7:110"), v4->to_string());
    auto v6 = SocketAddress::parse_numeric("2001:db8::1", 995);
    CPPUNIT_ASSERT(v6);
    CPPUNIT_ASSERT_EQUAL(std::string("[2001:db8::1]:995"), v6->to_string());
    CPPUNIT_ASSERT_EQUAL(995, v6->port());
    CPPUNIT_ASSERT(!SocketAddress::parse_numeric("300.1.1.1", 1));
    CPPUNIT_ASSERT(!SocketAddress::parse_numeric("mail.example", 1));
  }

  void bind_modes_choose_addresses() {
    Settings s;
    s.general.bind_addresses = {"127.0.0.1", "127.0.0.1"};
    auto def = resolve_service_addresses(s, 110);
    CPPUNIT_ASSERT(def.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{1}, def->size());  // duplicates removed
    s.pop3.bind = BindMode::kAll;
    auto all = resolve_service_addresses(s, 110);
    CPPUNIT_ASSERT(all.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{2}, all->size());
    CPPUNIT_ASSERT_EQUAL(std::string("0.0.0.0:110"), (*all)[0].to_string());
    CPPUNIT_ASSERT_EQUAL(std::string("[::]:110"), (*all)[1].to_string());
    s.pop3.bind = BindMode::kList;
    s.pop3.listen = {};
    auto none = resolve_service_addresses(s, 110);
    CPPUNIT_ASSERT(!none.ok());
    CPPUNIT_ASSERT(none.error().message.find("pop3.listen") != std::string::npos);
    s.pop3.listen = {"127.0.0.1", " [::1] "};
    auto list = resolve_service_addresses(s, 110);
    CPPUNIT_ASSERT(list.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("[::1]:110"), (*list)[1].to_string());
  }

  void host_name_resolves_to_loopback() {
    auto r = resolve_bind_entry("localhost", 1110);
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT(std::any_of(r->begin(), r->end(), [](const SocketAddress& a) {
      return a.ip() == "127.0.0.1" || a.ip() == "::1";
    }));
  }

  void unresolvable_name_is_named_in_error() {
    auto r = resolve_bind_entry("no-such-host.invalid", 110);
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT(r.error().message.find("no-such-host.invalid") != std::string::npos);
  }

  void port_in_use_is_named_in_error() {
    auto any = SocketAddress::parse_numeric("127.0.0.1", 0);
    auto first = bind_listener(*any);
    CPPUNIT_ASSERT(first.ok());
    const int port = bound_port(first->get());
    auto again = bind_listener(*SocketAddress::parse_numeric("127.0.0.1", port));
    CPPUNIT_ASSERT(!again.ok());
    CPPUNIT_ASSERT_EQUAL(EADDRINUSE, again.error().sys_errno);
    CPPUNIT_ASSERT(again.error().message.find("127.0.0.1:" + std::to_string(port)) !=
                   std::string::npos);
    if (has_ipv6_loopback()) {
      auto v6 = bind_listener(*SocketAddress::parse_numeric("::1", 0));
      CPPUNIT_ASSERT(v6.ok());
    }
  }

  void transport_reads_writes_and_times_out() {
    int pair[2];
    CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair));
    SocketTransport server{UniqueFd(pair[0])};
    UniqueFd client(pair[1]);
    char buf[16];
    auto nothing = server.read_some(buf, sizeof buf, std::chrono::milliseconds(50));
    CPPUNIT_ASSERT(nothing.status == IoStatus::kTimeout);
    CPPUNIT_ASSERT(server.write_all("+OK hi\r\n", std::chrono::seconds(1)).status == IoStatus::kOk);
    CPPUNIT_ASSERT_EQUAL(ssize_t{8}, ::read(client.get(), buf, sizeof buf));
    CPPUNIT_ASSERT_EQUAL(ssize_t{6}, ::write(client.get(), "QUIT\r\n", 6));
    auto got = server.read_some(buf, sizeof buf, std::chrono::seconds(1));
    CPPUNIT_ASSERT(got.status == IoStatus::kOk);
    CPPUNIT_ASSERT_EQUAL(std::string("QUIT\r\n"), std::string(buf, got.bytes));
    client.reset();
    CPPUNIT_ASSERT(server.read_some(buf, sizeof buf, std::chrono::seconds(1)).status ==
                   IoStatus::kEof);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ListenerTest);

}  // namespace pop3d
