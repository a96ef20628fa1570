// A real redis-server for the shared-state tests, on a free 127.0.0.1 high
// port, with no persistence; stopped (by its pid) and started again on the
// same port to play an outage. RedisServerFixture gives each test its own.
#pragma once

#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "util/unique_fd.hpp"

namespace pop3d::test {

class RedisServer {
 public:
  RedisServer() : port_(free_port()) {}
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // The binary, or "" when this machine has none.
  static std::string binary() {
    for (const char* p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
      if (::access(p, X_OK) == 0) return p;
    }
    return "";
  }

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Starts it and waits until it accepts connections.
  bool start() {
    const std::string bin = binary();
    if (bin.empty()) return false;
    pid_ = ::fork();
    if (pid_ == 0) {
      // Its start-up banner and warnings are not the tests' output.
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      const std::string port = std::to_string(port_);
      ::execl(bin.c_str(), bin.c_str(), "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--loglevel", "warning", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (accepts()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // A Redis that accepts connections but answers nothing (a stalled host).
  void freeze() { ::kill(pid_, SIGSTOP); }
  void thaw() { ::kill(pid_, SIGCONT); }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::kill(pid_, SIGCONT);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  static int free_port() {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) < 0) {
      return 0;
    }
    return ntohs(a.sin_port);
  }

  bool accepts() const {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }

  int port_;
  pid_t pid_ = -1;
};

// A fresh redis-server for every test of a suite. A machine without one
// fails the test, saying how to get it: scripts/deps installs it, and a
// CppUnit test cannot tell the runner that it skipped, so a quiet pass
// would hide a missing install step.
class RedisServerFixture : public CppUnit::TestFixture {
 public:
  void setUp() override {
    CPPUNIT_ASSERT_MESSAGE(
        "redis-server is not installed (apt-get install redis-server; scripts/deps does)",
        !RedisServer::binary().empty());
    server_ = std::make_unique<RedisServer>();
    CPPUNIT_ASSERT_MESSAGE("redis-server did not start", server_->start());
  }
  void tearDown() override { server_.reset(); }

 protected:
  std::unique_ptr<RedisServer> server_;
};

}  // namespace pop3d::test
