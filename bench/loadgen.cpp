// loadgen: a POP3 load generator for the benchmark against Dovecot.
//
// Opens N concurrent connections (epoll, non-blocking sockets, OpenSSL for
// implicit TLS) and runs one scenario over and over, checking every reply:
// "+OK" status lines, CRLF line endings, the ".\r\n" end of multi-line
// replies, and that each LIST size equals the bytes RETR delivers once the
// dot-stuffing is undone. It prints sessions/s, MB/s, per-session latency
// percentiles and error counts, and a last line "RESULT {json}" for
// bench/run.
//
// Scenarios:
//   login       connect, USER, PASS, STAT, QUIT
//   retr-all    login, LIST, RETR every message, QUIT
//   first-list  one connection: time from connect to the end of the first
//               LIST reply, per session, in ms (--sessions, default 2)
//   big         retr-all on one connection; the figure is MB/s
//   idle        N sessions log in and stay idle for --hold seconds (or until
//               SIGINT/SIGTERM); "READY n" is printed once all are in
//   poll-new    a polling client that finds new mail: before each session
//               one or two messages (alternately) are delivered into the
//               user's Maildir (--maildir-pattern, %s = user name) as an MTA
//               does, written in tmp/ and renamed into new/, owned by the
//               Maildir's owner; then login, UIDL, RETR the new ones (the
//               last in the listing; each is checked by its X-Bench-Id
//               header and size), DELE every other one, QUIT. QUIT latency
//               (QUIT sent to +OK) is reported beside the session's.
//   first-list  with --pause S, waits S seconds before each session from
//               the third on, so the folders are past any settle time
//
// Users: --users FILE (lines "name:password" or "name password"), or
// --user-pattern user%d --user-first 1 --user-count K --password PW.
// Connection i only uses users i, i+N, i+2N, ... so no two connections ever
// ask for the same maildrop at once (POP3 servers lock it).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// A reply line longer than this is a broken server, not a long line: RFC 1939
// caps lines at 512 octets, messages may go to 998 (RFC 5322) and we allow
// generous slack for non-conforming stored mail.
constexpr size_t kMaxLine = 1 << 20;
// Read size per recv/SSL_read: large enough that a 50 MB RETR costs few calls.
constexpr size_t kReadChunk = 256 * 1024;
// A session that makes no progress this long is counted as a time-out.
constexpr double kStallSeconds = 60.0;
// After this many errors the run is pointless: stop and report.
constexpr uint64_t kMaxErrors = 10000;
// Error messages shown on stderr, so a broken server does not flood output.
constexpr int kShownErrors = 5;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

enum class Scenario { Login, RetrAll, FirstList, Big, Idle, PollNew };

struct Options {
  std::string host = "127.0.0.1";
  int port = 110;
  bool tls = false;
  int conns = 1;
  Scenario scenario = Scenario::Login;
  std::string scenario_name = "login";
  double duration = 0;  // seconds; 0 = use sessions
  long sessions = 0;    // total sessions to complete; 0 = use duration
  double hold = 0;      // idle: seconds to hold; 0 = until a signal
  std::string users_file;
  std::string user_pattern = "user%d";
  int user_first = 1;
  int user_count = 1;
  std::string password = "password";
  std::string label;
  std::string maildir_pattern;  // poll-new: where to deliver, %s = user name
  size_t msg_size = 2000;       // poll-new: bytes per delivered message
  double pause = 0;             // first-list: seconds before sessions 3, 4, ...
};

struct User {
  std::string name;
  std::string password;
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "loadgen: %s\n"
               "usage: loadgen --scenario login|retr-all|first-list|big|idle|poll-new [--host H]\n"
               "  [--port P] [--tls] [--conns N] [--duration S | --sessions N] [--hold S]\n"
               "  [--maildir-pattern DIR/%%s/Maildir] [--msg-size BYTES] [--pause S]\n"
               "  [--users FILE | --user-pattern user%%d --user-first 1 --user-count K --password PW]\n"
               "  [--label TEXT]\n",
               why);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--host") o.host = value();
    else if (a == "--port") o.port = std::atoi(value().c_str());
    else if (a == "--tls") o.tls = true;
    else if (a == "--conns") o.conns = std::atoi(value().c_str());
    else if (a == "--duration") o.duration = std::atof(value().c_str());
    else if (a == "--sessions") o.sessions = std::atol(value().c_str());
    else if (a == "--hold") o.hold = std::atof(value().c_str());
    else if (a == "--users") o.users_file = value();
    else if (a == "--user-pattern") o.user_pattern = value();
    else if (a == "--user-first") o.user_first = std::atoi(value().c_str());
    else if (a == "--user-count") o.user_count = std::atoi(value().c_str());
    else if (a == "--password") o.password = value();
    else if (a == "--label") o.label = value();
    else if (a == "--maildir-pattern") o.maildir_pattern = value();
    else if (a == "--msg-size") o.msg_size = static_cast<size_t>(std::atol(value().c_str()));
    else if (a == "--pause") o.pause = std::atof(value().c_str());
    else if (a == "--scenario") {
      o.scenario_name = value();
      if (o.scenario_name == "login") o.scenario = Scenario::Login;
      else if (o.scenario_name == "retr-all") o.scenario = Scenario::RetrAll;
      else if (o.scenario_name == "first-list") o.scenario = Scenario::FirstList;
      else if (o.scenario_name == "big") o.scenario = Scenario::Big;
      else if (o.scenario_name == "idle") o.scenario = Scenario::Idle;
      else if (o.scenario_name == "poll-new") o.scenario = Scenario::PollNew;
      else usage("unknown scenario");
    } else usage(("unknown option " + a).c_str());
  }
  if (o.conns < 1) usage("--conns must be at least 1");
  if (o.scenario == Scenario::FirstList || o.scenario == Scenario::Big) {
    o.conns = 1;
    if (o.sessions == 0 && o.duration == 0) o.sessions = o.scenario == Scenario::FirstList ? 2 : 1;
  }
  if (o.scenario == Scenario::Idle) o.sessions = o.conns;
  if (o.scenario == Scenario::PollNew &&
      (o.maildir_pattern.find("%s") == std::string::npos || o.msg_size < 200 || o.msg_size > (1u << 24)))
    usage("poll-new needs --maildir-pattern with %s, and --msg-size from 200 to 16 MiB");
  if (o.duration <= 0 && o.sessions <= 0) usage("give --duration or --sessions");
  return o;
}

std::vector<User> load_users(const Options& o) {
  std::vector<User> users;
  if (!o.users_file.empty()) {
    std::ifstream in(o.users_file);
    if (!in) usage(("cannot read " + o.users_file).c_str());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      auto cut = line.find_first_of(": ");
      if (cut == std::string::npos) continue;
      users.push_back({line.substr(0, cut), line.substr(cut + 1)});
    }
  } else {
    for (int i = 0; i < o.user_count; ++i) {
      char name[256];
      std::snprintf(name, sizeof name, o.user_pattern.c_str(), o.user_first + i);
      users.push_back({name, o.password});
    }
  }
  if (users.empty()) usage("no users");
  return users;
}

struct Stats {
  uint64_t sessions = 0;
  uint64_t bytes = 0;     // message bytes RETR delivered, after un-stuffing
  uint64_t messages = 0;  // messages retrieved
  uint64_t in_use = 0;    // [IN-USE] answers to PASS (retried, not errors)
  std::map<std::string, uint64_t> errors;
  uint64_t error_total = 0;
  int shown = 0;
  std::vector<double> latency_ms;  // per completed session
  std::vector<double> mark_ms;     // first-list: connect -> end of LIST
  std::vector<double> quit_ms;     // poll-new: QUIT sent -> +OK
  uint64_t delivered = 0;          // poll-new: messages delivered

  void error(const std::string& kind, const std::string& detail) {
    ++errors[kind];
    ++error_total;
    if (shown++ < kShownErrors) std::fprintf(stderr, "loadgen: error %s: %s\n", kind.c_str(), detail.c_str());
  }
};

// A message of exactly `size` bytes with CRLF line ends (so its POP3 size is
// its file size), carrying `id` in an X-Bench-Id header.
std::string make_message(const std::string& id, size_t size) {
  std::string m = "Received: from mx.example.org by mail.example.org; Tue, 1 Dec 2026\r\n"
                  "From: poller <poll@example.org>\r\nTo: user@example.org\r\n"
                  "Subject: new mail\r\nX-Bench-Id: " + id + "\r\n\r\n";
  static const char kLine[] = "the quarterly report attached please review the numbers today\r\n";
  while (m.size() + sizeof kLine - 1 <= size) m += kLine;
  while (m.size() + 2 < size) m += 'x';
  m.resize(size - 2, 'x');
  m += "\r\n";
  return m;
}

// Delivers as an MTA does: a unique name, written in tmp/, then renamed
// into new/; owned by the Maildir's owner, for the server reads it as that
// user. Empty on success, else what failed. No fsync, unlike an MTA: this
// one event loop drives every connection, and a disk flush here would be
// counted in the other sessions' latencies, not in the server's work.
std::string deliver(const std::string& maildir, const std::string& id, const std::string& text) {
  struct stat root;
  if (::stat(maildir.c_str(), &root) != 0) return "stat " + maildir + ": " + std::strerror(errno);
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  char name[128];
  std::snprintf(name, sizeof name, "%lld.M%06ldP%dQ%s.loadgen", static_cast<long long>(tv.tv_sec),
                static_cast<long>(tv.tv_usec), static_cast<int>(::getpid()), id.c_str());
  const std::string tmp = maildir + "/tmp/" + name, dst = maildir + "/new/" + name;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return "open " + tmp + ": " + std::strerror(errno);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fchown(fd, root.st_uid, root.st_gid) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), dst.c_str()) != 0) {
    const int e = ok ? errno : err;
    ::unlink(tmp.c_str());
    return "deliver " + dst + ": " + std::strerror(e);
  }
  return {};
}

// One client connection running sessions of the scenario back to back.
class Conn {
 public:
  Conn(int index, const Options& o, const std::vector<User>& users, SSL_CTX* ctx, int ep, Stats& st)
      : index_(index), o_(o), users_(users), ctx_(ctx), ep_(ep), st_(st) {
    inbuf_.resize(kReadChunk * 2);
  }
  ~Conn() { close_fd(); }

  bool active() const { return fd_ >= 0; }
  bool logged_in() const { return phase_ == Phase::Idle; }
  double idle_seconds() const { return seconds_since(last_progress_); }

  // Starts a new session: picks this connection's next user and connects.
  void start() {
    const size_t mine = (users_.size() + o_.conns - 1 - index_) / o_.conns;  // users i, i+N, ...
    const size_t pick = mine == 0 ? index_ % users_.size() : index_ + (round_++ % mine) * o_.conns;
    user_ = &users_[pick % users_.size()];
    if (o_.scenario == Scenario::PollNew && !deliver_new_mail()) {
      done_ok_ = false;
      ended_ = true;  // counted; the main loop decides on the next session
      return;
    }
    begin_ = Clock::now();
    last_progress_ = begin_;
    sizes_.clear();
    retr_next_ = 0;
    out_.clear();
    out_off_ = 0;
    in_start_ = in_end_ = 0;
    multiline_ = false;
    session_bytes_ = 0;
    done_ok_ = false;

    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return fail("connect", std::string("socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(o_.port));
    if (::inet_pton(AF_INET, o_.host.c_str(), &sa.sin_addr) != 1) return fail("connect", "bad IPv4 address " + o_.host);
    phase_ = Phase::Connecting;
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 && errno != EINPROGRESS)
      return fail("connect", std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = static_cast<uint32_t>(index_);
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd_, &ev);
    want_out_ = true;
  }

  void on_event(uint32_t events) {
    last_progress_ = Clock::now();
    if (phase_ == Phase::Connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return fail("connect", std::strerror(err));
      if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      if (o_.tls) {
        ssl_ = SSL_new(ctx_);
        SSL_set_fd(ssl_, fd_);
        SSL_set_tlsext_host_name(ssl_, "localhost");
        SSL_set_connect_state(ssl_);
        phase_ = Phase::Handshake;
      } else {
        phase_ = Phase::Greeting;
      }
    }
    if (phase_ == Phase::Handshake) {
      int r = SSL_do_handshake(ssl_);
      if (r != 1) {
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return set_interest(e == SSL_ERROR_WANT_WRITE);
        return fail("tls", ssl_error_text());
      }
      phase_ = Phase::Greeting;
    }
    if (!flush()) return;
    if (fd_ < 0) return;
    read_available();
    if (fd_ >= 0) set_interest(out_off_ < out_.size());
  }

  // idle: QUIT a logged-in session.
  void quit() {
    if (phase_ != Phase::Idle) return;
    send_cmd("QUIT", Phase::Quit);
    set_interest(out_off_ < out_.size());
  }

  void fail(const std::string& kind, const std::string& detail) {
    st_.error(kind, (user_ ? user_->name + ": " : std::string()) + detail);
    close_fd();
  }

  bool finished_ok() const { return done_ok_; }
  // True once after each session ends (well or not): time to decide on the next.
  bool take_ended() {
    const bool e = ended_;
    ended_ = false;
    return e;
  }

 private:
  enum class Phase { Connecting, Handshake, Greeting, User, Pass, Stat, List, Uidl, Retr, Dele, Quit, WaitClose, Idle };

  // poll-new: one or two new messages (alternately) in the user's Maildir.
  bool deliver_new_mail() {
    expected_ids_.clear();
    const size_t k = 1 + (deliveries_++ % 2);
    char maildir[4096];
    std::snprintf(maildir, sizeof maildir, o_.maildir_pattern.c_str(), user_->name.c_str());
    for (size_t i = 0; i < k; ++i) {
      const std::string id = std::to_string(index_) + "x" + std::to_string(++sequence_);
      if (std::string err = deliver(maildir, id, make_message(id, o_.msg_size)); !err.empty()) {
        st_.error("deliver", err);
        return false;
      }
      ++st_.delivered;
      expected_ids_.push_back(id);
    }
    return true;
  }

  std::string ssl_error_text() {
    char buf[256];
    unsigned long e = ERR_get_error();
    if (e == 0) return std::string("TLS failure, errno ") + std::strerror(errno);
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
  }

  void set_interest(bool out) {
    if (fd_ < 0 || out == want_out_) return;
    want_out_ = out;
    epoll_event ev{};
    ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
    ev.data.u32 = static_cast<uint32_t>(index_);
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, fd_, &ev);
  }

  void close_fd() {
    if (ssl_ != nullptr) {
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);  // also leaves the epoll set
      fd_ = -1;
      ended_ = true;
    }
    want_out_ = false;
  }

  // Sends what is queued; false when the connection failed.
  bool flush() {
    while (out_off_ < out_.size()) {
      const size_t left = out_.size() - out_off_;
      if (ssl_ != nullptr) {
        int n = SSL_write(ssl_, out_.data() + out_off_, static_cast<int>(left));
        if (n <= 0) {
          int e = SSL_get_error(ssl_, n);
          if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return true;
          fail("send", ssl_error_text());
          return false;
        }
        out_off_ += static_cast<size_t>(n);
      } else {
        ssize_t n = ::send(fd_, out_.data() + out_off_, left, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) return true;
          fail("send", std::strerror(errno));
          return false;
        }
        out_off_ += static_cast<size_t>(n);
      }
    }
    out_.clear();
    out_off_ = 0;
    return true;
  }

  void send_cmd(const std::string& line, Phase next) {
    out_ += line;
    out_ += "\r\n";
    phase_ = next;
    flush();
  }

  void read_available() {
    for (;;) {
      if (in_start_ > 0 && (in_end_ == inbuf_.size() || in_start_ == in_end_)) {
        std::memmove(inbuf_.data(), inbuf_.data() + in_start_, in_end_ - in_start_);
        in_end_ -= in_start_;
        in_start_ = 0;
      }
      if (in_end_ == inbuf_.size()) {
        if (inbuf_.size() >= kMaxLine + kReadChunk) return fail("protocol", "line too long");
        inbuf_.resize(inbuf_.size() * 2);
      }
      const size_t room = inbuf_.size() - in_end_;
      ssize_t n;
      if (ssl_ != nullptr) {
        int r = SSL_read(ssl_, inbuf_.data() + in_end_, static_cast<int>(std::min(room, kReadChunk)));
        if (r <= 0) {
          int e = SSL_get_error(ssl_, r);
          if (e == SSL_ERROR_WANT_READ) return;
          if (e == SSL_ERROR_WANT_WRITE) return set_interest(true);
          if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) n = 0;
          else return fail("recv", ssl_error_text());
        } else {
          n = r;
        }
      } else {
        n = ::recv(fd_, inbuf_.data() + in_end_, std::min(room, kReadChunk), 0);
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) return;
          return fail("recv", std::strerror(errno));
        }
      }
      if (n == 0) return on_eof();
      in_end_ += static_cast<size_t>(n);
      if (!consume_lines()) return;
      if (fd_ < 0) return;
    }
  }

  void on_eof() {
    if (phase_ == Phase::WaitClose) {
      close_fd();
      complete_session();
      return;
    }
    fail("eof", "server closed the connection in the middle of the session");
  }

  // Handles every complete line in the buffer; false when the session ended.
  bool consume_lines() {
    while (in_start_ < in_end_) {
      const char* base = inbuf_.data() + in_start_;
      const size_t avail = in_end_ - in_start_;
      const auto* nl = static_cast<const char*>(std::memchr(base, '\n', avail));
      if (nl == nullptr) return true;
      const size_t len = static_cast<size_t>(nl - base);
      in_start_ += len + 1;
      if (len == 0 || base[len - 1] != '\r') {
        fail("protocol", "line without CR before LF");
        return false;
      }
      if (!on_line(std::string_view(base, len - 1))) return false;
      if (fd_ < 0) return false;
    }
    return true;
  }

  bool status_ok(std::string_view line, const char* what) {
    if (line.substr(0, 3) == "+OK") return true;
    std::string text(line.substr(0, 200));
    if (phase_ == Phase::Pass && text.find("[IN-USE]") != std::string::npos) {
      ++st_.in_use;  // the previous session's lock; retry, not an error
      close_fd();
      return false;
    }
    fail("reply", std::string(what) + ": " + text);
    return false;
  }

  bool on_line(std::string_view line) {
    if (multiline_) return on_body_line(line);
    switch (phase_) {
      case Phase::Greeting:
        if (!status_ok(line, "greeting")) return false;
        send_cmd("USER " + user_->name, Phase::User);
        return true;
      case Phase::User:
        if (!status_ok(line, "USER")) return false;
        send_cmd("PASS " + user_->password, Phase::Pass);
        return true;
      case Phase::Pass:
        if (!status_ok(line, "PASS")) return false;
        if (o_.scenario == Scenario::Idle) {
          phase_ = Phase::Idle;
          return true;
        }
        if (o_.scenario == Scenario::Login) send_cmd("STAT", Phase::Stat);
        else if (o_.scenario == Scenario::PollNew) send_cmd("UIDL", Phase::Uidl);
        else send_cmd("LIST", Phase::List);
        return true;
      case Phase::Uidl:
        if (!status_ok(line, "UIDL")) return false;
        multiline_ = true;
        uidl_count_ = 0;
        return true;
      case Phase::Dele:
        if (!status_ok(line, "DELE")) return false;
        return next_poll_command();
      case Phase::Stat:
        if (!status_ok(line, "STAT")) return false;
        send_cmd("QUIT", Phase::Quit);
        return true;
      case Phase::List:
        if (!status_ok(line, "LIST")) return false;
        multiline_ = true;
        return true;
      case Phase::Retr:
        if (!status_ok(line, "RETR")) return false;
        multiline_ = true;
        session_bytes_ = 0;
        return true;
      case Phase::Quit:
        if (!status_ok(line, "QUIT")) return false;
        if (o_.scenario == Scenario::PollNew) st_.quit_ms.push_back(seconds_since(quit_sent_) * 1000.0);
        phase_ = Phase::WaitClose;
        return true;
      case Phase::Idle:
      case Phase::WaitClose:
        fail("protocol", "unexpected line: " + std::string(line.substr(0, 200)));
        return false;
      default:
        fail("protocol", "line in the wrong phase");
        return false;
    }
  }

  bool on_body_line(std::string_view line) {
    const bool end = line == ".";
    if (phase_ == Phase::Uidl) {
      if (!end) {
        unsigned long n = 0;
        char uidl[80];
        std::string text(line.substr(0, 100));
        if (std::sscanf(text.c_str(), "%lu %70s", &n, uidl) != 2 || n != uidl_count_ + 1) {
          fail("protocol", "bad UIDL line: " + text);
          return false;
        }
        ++uidl_count_;
        return true;
      }
      multiline_ = false;
      // The new mail is the last in the listing (delivery order).
      const size_t k = expected_ids_.size();
      if (uidl_count_ < k) {
        fail("poll", "UIDL lists " + std::to_string(uidl_count_) + " messages, " +
                         std::to_string(k) + " were just delivered");
        return false;
      }
      poll_todo_.clear();
      for (size_t i = 0; i < k; ++i) poll_todo_.push_back({uidl_count_ - k + i + 1, false});
      for (size_t i = 0; i < k; ++i)
        if (dele_toggle_++ % 2 == 0) poll_todo_.push_back({uidl_count_ - k + i + 1, true});
      poll_next_ = 0;
      return next_poll_command();
    }
    if (phase_ == Phase::Retr && o_.scenario == Scenario::PollNew) {
      if (!end) {
        session_bytes_ += line.size() + 2 - (line.empty() || line[0] != '.' ? 0 : 1);
        if (line.starts_with("X-Bench-Id: ")) {
          auto it = std::find(expected_ids_.begin(), expected_ids_.end(), line.substr(12));
          if (it == expected_ids_.end()) {
            fail("poll", "RETR of a new message gave " + std::string(line.substr(0, 100)));
            return false;
          }
          it->clear();  // each new message once
        }
        return true;
      }
      multiline_ = false;
      if (session_bytes_ != o_.msg_size) {
        fail("size", "new message: RETR delivered " + std::to_string(session_bytes_) + " of " +
                         std::to_string(o_.msg_size) + " bytes");
        return false;
      }
      st_.bytes += session_bytes_;
      ++st_.messages;
      return next_poll_command();
    }
    if (phase_ == Phase::List) {
      if (!end) {
        unsigned long n = 0, size = 0;
        std::string text(line);
        if (std::sscanf(text.c_str(), "%lu %lu", &n, &size) != 2 || n != sizes_.size() + 1) {
          fail("protocol", "bad LIST line: " + text.substr(0, 100));
          return false;
        }
        sizes_.push_back(size);
        return true;
      }
      multiline_ = false;
      if (o_.scenario == Scenario::FirstList) {
        st_.mark_ms.push_back(seconds_since(begin_) * 1000.0);
        send_cmd("QUIT", Phase::Quit);
        return true;
      }
      return next_retr();
    }
    // RETR: a leading dot is stuffing, and the CRLF counts as message bytes.
    if (!end) {
      session_bytes_ += line.size() + 2 - (line.empty() || line[0] != '.' ? 0 : 1);
      return true;
    }
    multiline_ = false;
    if (session_bytes_ != sizes_[retr_next_ - 1]) {
      fail("size", "message " + std::to_string(retr_next_) + ": LIST said " +
                       std::to_string(sizes_[retr_next_ - 1]) + ", RETR delivered " +
                       std::to_string(session_bytes_));
      return false;
    }
    st_.bytes += session_bytes_;
    ++st_.messages;
    return next_retr();
  }

  bool next_retr() {
    if (retr_next_ < sizes_.size()) {
      ++retr_next_;
      send_cmd("RETR " + std::to_string(retr_next_), Phase::Retr);
    } else {
      send_cmd("QUIT", Phase::Quit);
    }
    return true;
  }

  // poll-new: the next RETR or DELE, then QUIT.
  bool next_poll_command() {
    if (poll_next_ < poll_todo_.size()) {
      const auto [number, dele] = poll_todo_[poll_next_++];
      session_bytes_ = 0;
      send_cmd((dele ? "DELE " : "RETR ") + std::to_string(number), dele ? Phase::Dele : Phase::Retr);
      return true;
    }
    for (const std::string& id : expected_ids_) {
      if (!id.empty()) {
        fail("poll", "new message " + id + " was not among the last in UIDL");
        return false;
      }
    }
    quit_sent_ = Clock::now();
    send_cmd("QUIT", Phase::Quit);
    return true;
  }

  void complete_session() {
    ++st_.sessions;
    st_.latency_ms.push_back(seconds_since(begin_) * 1000.0);
    done_ok_ = true;
    ended_ = true;
  }

  int index_;
  const Options& o_;
  const std::vector<User>& users_;
  SSL_CTX* ctx_;
  int ep_;
  Stats& st_;
  const User* user_ = nullptr;
  size_t round_ = 0;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  Phase phase_ = Phase::Connecting;
  bool want_out_ = false;
  bool multiline_ = false;
  bool done_ok_ = false;
  bool ended_ = false;
  std::string out_;
  size_t out_off_ = 0;
  std::vector<char> inbuf_;
  size_t in_start_ = 0, in_end_ = 0;
  std::vector<uint64_t> sizes_;
  size_t retr_next_ = 0;
  uint64_t session_bytes_ = 0;
  Clock::time_point begin_, last_progress_, quit_sent_;
  // poll-new
  size_t deliveries_ = 0, sequence_ = 0, dele_toggle_ = 0, uidl_count_ = 0, poll_next_ = 0;
  std::vector<std::string> expected_ids_;  // delivered for this session; cleared once RETRieved
  std::vector<std::pair<size_t, bool>> poll_todo_;  // message number, DELE (else RETR)
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
  std::vector<User> users = load_users(o);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  SSL_CTX* ctx = nullptr;
  if (o.tls) {
    ctx = SSL_CTX_new(TLS_client_method());
    // The benchmark's certificate is self-signed: checking it would measure
    // nothing about the server. Each session is a fresh full handshake (no
    // resumption), as a storm of separate clients would make.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  }

  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  Stats st;
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < o.conns; ++i) conns.push_back(std::make_unique<Conn>(i, o, users, ctx, ep, st));

  const auto t0 = Clock::now();
  long started = 0;
  auto may_start = [&]() {
    if (g_stop || st.error_total >= kMaxErrors) return false;
    if (o.scenario == Scenario::Idle) return false;
    if (o.sessions > 0) return started < o.sessions;
    return seconds_since(t0) < o.duration;
  };
  for (auto& c : conns) {
    c->start();
    ++started;
  }
  auto pause_before = [&]() {
    if (o.scenario == Scenario::FirstList && o.pause > 0 && started >= 2)
      std::this_thread::sleep_for(std::chrono::duration<double>(o.pause));
  };

  bool ready_printed = false;
  bool quitting = false;
  Clock::time_point ready_at{};
  std::vector<epoll_event> events(1024);
  for (;;) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 50);
    if (n < 0 && errno != EINTR) {
      std::perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) conns[events[i].data.u32]->on_event(events[i].events);

    bool all_idle = true, any_active = false;
    for (auto& c : conns) {
      if (c->active()) {
        if (!c->logged_in() && c->idle_seconds() > kStallSeconds) c->fail("timeout", "no progress");
      }
      if (!c->active() && c->take_ended()) {
        const bool ok = c->finished_ok();
        bool again;
        if (o.scenario == Scenario::Idle) {
          again = !ok && !quitting && !g_stop && st.error_total < kMaxErrors;
        } else if (ok) {
          again = may_start();
          if (again) {
            pause_before();
            ++started;
          }
        } else {  // an error or [IN-USE]: run the session again while the run lasts
          again = !g_stop && st.error_total < kMaxErrors && st.in_use < 100 * kMaxErrors &&
                  (o.sessions > 0 || seconds_since(t0) < o.duration);
        }
        if (again) c->start();
      }
      if (c->active()) any_active = true;
      if (!c->logged_in()) all_idle = false;
    }

    if (o.scenario == Scenario::Idle) {
      if (all_idle && !ready_printed) {
        ready_printed = true;
        ready_at = Clock::now();
        std::printf("READY %d sessions logged in after %.3f s\n", o.conns, seconds_since(t0));
        std::fflush(stdout);
      }
      const bool time_up = ready_printed && o.hold > 0 && seconds_since(ready_at) >= o.hold;
      if (!quitting && (g_stop || time_up)) {
        quitting = true;
        for (auto& c : conns) {
          if (c->logged_in()) c->quit();
          else if (c->active()) c->fail("stopped", "stopped before logging in");
        }
      }
      if (quitting && !any_active) break;
    } else if (!any_active) {
      break;
    }
  }
  const double elapsed = seconds_since(t0);

  const double sps = elapsed > 0 ? static_cast<double>(st.sessions) / elapsed : 0;
  const double mbps = elapsed > 0 ? static_cast<double>(st.bytes) / 1e6 / elapsed : 0;
  const double p50 = percentile(st.latency_ms, 50), p90 = percentile(st.latency_ms, 90),
               p99 = percentile(st.latency_ms, 99), pmax = percentile(st.latency_ms, 100);
  std::printf("%s%s%s: %d conns, %llu sessions in %.3f s: %.1f sessions/s, %llu messages, %.2f MB/s\n",
              o.label.c_str(), o.label.empty() ? "" : " ", o.scenario_name.c_str(), o.conns,
              static_cast<unsigned long long>(st.sessions), elapsed, sps,
              static_cast<unsigned long long>(st.messages), mbps);
  std::printf("  session latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", p50, p90, p99, pmax);
  const double q50 = percentile(st.quit_ms, 50), q99 = percentile(st.quit_ms, 99);
  if (!st.quit_ms.empty())
    std::printf("  QUIT latency ms: p50 %.3f  p99 %.3f  (%llu messages delivered)\n", q50, q99,
                static_cast<unsigned long long>(st.delivered));
  for (size_t i = 0; i < st.mark_ms.size(); ++i)
    std::printf("  session %zu: connect to end of LIST %.2f ms\n", i + 1, st.mark_ms[i]);
  std::printf("  errors: %llu", static_cast<unsigned long long>(st.error_total));
  for (auto& [kind, count] : st.errors) std::printf(" %s=%llu", kind.c_str(), static_cast<unsigned long long>(count));
  std::printf("  (in-use retries: %llu)\n", static_cast<unsigned long long>(st.in_use));

  std::string marks;
  for (size_t i = 0; i < st.mark_ms.size(); ++i) {
    char b[32];
    std::snprintf(b, sizeof b, "%s%.3f", i ? "," : "", st.mark_ms[i]);
    marks += b;
  }
  std::string kinds;
  for (auto& [kind, count] : st.errors) {
    if (!kinds.empty()) kinds += ",";
    kinds += "\"" + kind + "\":" + std::to_string(count);
  }
  std::printf(
      "RESULT {\"label\":\"%s\",\"scenario\":\"%s\",\"tls\":%s,\"conns\":%d,\"sessions\":%llu,"
      "\"elapsed_s\":%.4f,\"sessions_per_s\":%.3f,\"messages\":%llu,\"bytes\":%llu,\"mb_per_s\":%.3f,"
      "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"list_ms\":[%s],"
      "\"quit_p50_ms\":%.3f,\"quit_p99_ms\":%.3f,\"delivered\":%llu,"
      "\"errors\":%llu,\"error_kinds\":{%s},\"in_use\":%llu}\n",
      o.label.c_str(), o.scenario_name.c_str(), o.tls ? "true" : "false", o.conns,
      static_cast<unsigned long long>(st.sessions), elapsed, sps, static_cast<unsigned long long>(st.messages),
      static_cast<unsigned long long>(st.bytes), mbps, p50, p90, p99, pmax, marks.c_str(), q50, q99,
      static_cast<unsigned long long>(st.delivered), static_cast<unsigned long long>(st.error_total), kinds.c_str(), static_cast<unsigned long long>(st.in_use));
  conns.clear();
  if (ctx != nullptr) SSL_CTX_free(ctx);
  ::close(ep);
  return st.error_total == 0 ? 0 : 1;
}
