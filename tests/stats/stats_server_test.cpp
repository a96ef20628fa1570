#include <cppunit/extensions/HelperMacros.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "net/listener.hpp"
#include "stats/stats_server.hpp"

namespace pop3d {

namespace {

// A StatsServer on 127.0.0.1, serving from its own thread for one test.
class RunningServer {
 public:
  explicit RunningServer(StatsServerLimits limits = {}) {
    auto address = SocketAddress::parse_numeric("127.0.0.1", 0);
    CPPUNIT_ASSERT(address);
    Result<UniqueFd> fd = bind_listener(*address);
    CPPUNIT_ASSERT_MESSAGE(fd ? "" : fd.error().message, fd.ok());
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = SocketAddress(reinterpret_cast<sockaddr*>(&ss), len).port();
    server_ = std::make_unique<StatsServer>(
        std::move(*fd),
        [this](ExpositionFormat f) {
          ++scrapes_;
          return std::string(f == ExpositionFormat::kOpenMetrics ? "om page\n# EOF\n"
                                                                 : "text page\n");
        },
        limits);
    thread_ = std::thread([this] { server_->run([this] { return stop_.load(); }); });
  }
  ~RunningServer() {
    stop_ = true;
    thread_.join();
  }

  // A connected client socket (blocking).
  UniqueFd connect() const {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<uint16_t>(port_));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CPPUNIT_ASSERT_EQUAL(0, ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin));
    return fd;
  }

  int scrapes() const { return scrapes_.load(); }

 private:
  int port_ = 0;
  std::unique_ptr<StatsServer> server_;
  std::atomic<bool> stop_{false};
  std::atomic<int> scrapes_{0};
  std::thread thread_;
};

void send_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may have answered and closed already
    done += static_cast<size_t>(n);
  }
}

// Everything until the server closes, waiting at most `limit`.
std::string read_to_close(int fd, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return got + "<still open>";
    }
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return got;
    got.append(buf, static_cast<size_t>(n));
  }
}

std::string round_trip(const RunningServer& s, const std::string& request) {
  UniqueFd fd = s.connect();
  send_all(fd.get(), request);
  return read_to_close(fd.get());
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

class StatsServerTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(StatsServerTest);
  CPPUNIT_TEST(get_metrics_is_served_in_the_asked_format);
  CPPUNIT_TEST(other_paths_and_methods_get_404);
  CPPUNIT_TEST(malformed_and_oversized_requests_get_400_and_close);
  CPPUNIT_TEST(silent_client_is_dropped_at_its_deadline);
  CPPUNIT_TEST(scrapers_beyond_the_limit_wait_their_turn);
  CPPUNIT_TEST_SUITE_END();

 public:
  void get_metrics_is_served_in_the_asked_format() {
    RunningServer s;
    const std::string text = round_trip(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    CPPUNIT_ASSERT_MESSAGE(text, starts_with(text, "HTTP/1.1 200 OK\r\n"));
    CPPUNIT_ASSERT(text.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n") !=
                   std::string::npos);
    CPPUNIT_ASSERT(text.find("\r\nContent-Length: 10\r\n") != std::string::npos);
    CPPUNIT_ASSERT(text.find("\r\nConnection: close\r\n") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL(std::string("text page\n"), text.substr(text.find("\r\n\r\n") + 4));

    // Sent in pieces, LF only, HTTP/1.0, asking for OpenMetrics.
    UniqueFd fd = s.connect();
    send_all(fd.get(), "GET /metrics HT");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    send_all(fd.get(), "TP/1.0\nAccept: application/openmetrics-text; version=1.0.0\n\n");
    const std::string om = read_to_close(fd.get());
    CPPUNIT_ASSERT_MESSAGE(om, starts_with(om, "HTTP/1.1 200 OK\r\n"));
    CPPUNIT_ASSERT(om.find("Content-Type: application/openmetrics-text; version=1.0.0; "
                           "charset=utf-8\r\n") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL(std::string("om page\n# EOF\n"), om.substr(om.find("\r\n\r\n") + 4));
    CPPUNIT_ASSERT_EQUAL(2, s.scrapes());
  }

  void other_paths_and_methods_get_404() {
    RunningServer s;
    for (const char* request : {"GET /other HTTP/1.1\r\n\r\n", "GET /metrics/ HTTP/1.1\r\n\r\n",
                                "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                                "HEAD /metrics HTTP/1.1\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"}) {
      const std::string got = round_trip(s, request);
      CPPUNIT_ASSERT_MESSAGE(request, starts_with(got, "HTTP/1.1 404 Not Found\r\n"));
      CPPUNIT_ASSERT(got.find("<still open>") == std::string::npos);
    }
    CPPUNIT_ASSERT_EQUAL(0, s.scrapes());
  }

  void malformed_and_oversized_requests_get_400_and_close() {
    RunningServer s;
    for (const std::string& request :
         {std::string("GET /metrics\r\n\r\n"), std::string("GET /metrics HTTP/1.1\r\nbad\r\n\r\n"),
          std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),  // a TLS hello
          "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a')}) {
      const std::string got = round_trip(s, request);
      CPPUNIT_ASSERT_MESSAGE(request.substr(0, 40),
                             starts_with(got, "HTTP/1.1 400 Bad Request\r\n"));
      CPPUNIT_ASSERT_MESSAGE(got, got.find("<still open>") == std::string::npos);
    }
    CPPUNIT_ASSERT_EQUAL(0, s.scrapes());
  }

  void silent_client_is_dropped_at_its_deadline() {
    StatsServerLimits limits;
    limits.timeout = std::chrono::milliseconds(300);
    RunningServer s(limits);
    UniqueFd fd = s.connect();
    send_all(fd.get(), "GET /metrics HTTP/1.1\r\n");  // and never the end
    const auto start = std::chrono::steady_clock::now();
    const std::string got = read_to_close(fd.get(), std::chrono::seconds(5));
    const auto took = std::chrono::steady_clock::now() - start;
    CPPUNIT_ASSERT_EQUAL(std::string(), got);  // closed, unanswered
    CPPUNIT_ASSERT(took < std::chrono::seconds(3));
    // And the server still serves others.
    CPPUNIT_ASSERT(starts_with(round_trip(s, "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 200"));
  }

  void scrapers_beyond_the_limit_wait_their_turn() {
    StatsServerLimits limits;
    limits.max_connections = 2;
    RunningServer s(limits);
    UniqueFd idle1 = s.connect();
    UniqueFd idle2 = s.connect();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    UniqueFd third = s.connect();  // in the backlog: the kernel accepts it
    send_all(third.get(), "GET /metrics HTTP/1.1\r\n\r\n");
    CPPUNIT_ASSERT_EQUAL(std::string("<still open>"),
                         read_to_close(third.get(), std::chrono::milliseconds(300)));
    CPPUNIT_ASSERT_EQUAL(0, s.scrapes());
    idle1.reset();
    idle2.reset();
    const std::string got = read_to_close(third.get());
    CPPUNIT_ASSERT_MESSAGE(got, starts_with(got, "HTTP/1.1 200 OK\r\n"));
    CPPUNIT_ASSERT_EQUAL(1, s.scrapes());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StatsServerTest);

}  // namespace pop3d
