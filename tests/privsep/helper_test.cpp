// The privileged helper as a real process on a real channel: its state
// table (checks only after session-start, open-maildrop only once and only
// after a good check), its refusal of malformed and oversized requests (the
// channel is closed and the refusal logged), its rate limit, and the
// client address it reads itself from the session's socket.
#include <arpa/inet.h>
#include <cppunit/extensions/HelperMacros.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "auth/password_scheme.hpp"
#include "log/logger.hpp"
#include "privsep/client.hpp"
#include "privsep/helper.hpp"

namespace pop3d {

namespace {

class OneUserSource : public AccountSource {
 public:
  OneUserSource(uid_t uid, std::string home, std::string hash)
      : uid_(uid), home_(std::move(home)), hash_(std::move(hash)) {}
  Lookup<SystemAccount> find_account(const std::string& name) override {
    Lookup<SystemAccount> out;
    out.status = name == "alice" ? LookupStatus::kFound : LookupStatus::kNotFound;
    out.value.name = name;
    out.value.uid = uid_;
    out.value.gid = uid_;
    out.value.home = home_;
    out.value.passwd_field = SecretString("x");
    return out;
  }
  Lookup<ShadowEntry> find_shadow(const std::string&) override {
    Lookup<ShadowEntry> out;
    out.status = LookupStatus::kFound;
    out.value.hash = SecretString(hash_);
    return out;
  }

 private:
  uid_t uid_;
  std::string home_;
  std::string hash_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

// A connected TCP pair over loopback whose client end is bound to `source`
// first: the server end is what a worker holds for a session.
UniqueFd accepted_tcp_socket(const char* source, UniqueFd* client_out) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CPPUNIT_ASSERT_EQUAL(0, ::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a));
  CPPUNIT_ASSERT_EQUAL(0, ::listen(listener.get(), 1));
  socklen_t len = sizeof a;
  CPPUNIT_ASSERT_EQUAL(0, ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len));
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in src{};
  src.sin_family = AF_INET;
  CPPUNIT_ASSERT_EQUAL(1, ::inet_pton(AF_INET, source, &src.sin_addr));
  CPPUNIT_ASSERT_EQUAL(0, ::bind(client.get(), reinterpret_cast<sockaddr*>(&src), sizeof src));
  CPPUNIT_ASSERT_EQUAL(0, ::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a));
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  CPPUNIT_ASSERT(server.valid());
  if (client_out != nullptr) *client_out = std::move(client);
  return server;
}

// session-start with `fd` attached, as PrivsepChannel::client_start_session
// sends it (with the address of a PROXY header, when not empty).
void start_session_with(const UniqueFd& ch, int fd, std::string_view proxied_client = {}) {
  MessageBuilder b(MsgType::kSessionStart);
  b.str(proxied_client);
  CPPUNIT_ASSERT(send_message(ch.get(), b.view(), fd).ok());
}

class PrivsepHelperTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(PrivsepHelperTest);
  CPPUNIT_TEST(open_before_check_closes_the_channel);
  CPPUNIT_TEST(open_after_failed_check_closes_the_channel);
  CPPUNIT_TEST(good_check_then_one_open_only);
  CPPUNIT_TEST(malformed_requests_close_the_channel_and_are_logged);
  CPPUNIT_TEST(answers_are_not_requests);
  CPPUNIT_TEST(checks_are_rate_limited);
  CPPUNIT_TEST(token_bucket_refills);
  CPPUNIT_TEST(check_before_session_start_closes_the_channel);
  CPPUNIT_TEST(session_start_needs_a_connected_tcp_socket);
  CPPUNIT_TEST(failures_are_logged_with_the_address_of_the_socket);
  CPPUNIT_TEST(a_new_session_forgets_the_last_good_check);
  CPPUNIT_TEST(a_trusted_proxys_client_address_is_the_sessions);
  CPPUNIT_TEST(a_proxied_address_from_an_untrusted_peer_closes_the_channel);
  CPPUNIT_TEST(a_proxied_address_is_refused_when_the_protocol_is_off);
  CPPUNIT_TEST_SUITE_END();

 public:
  void setUp() override {
    char tmpl[] = "/tmp/pop3d-privsep-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ::chmod(dir_.c_str(), 0755);
    log_ = dir_ + "/helper.log";
  }

  void tearDown() override {
    stop_helper();
    const std::string cmd = "rm -rf '" + dir_ + "'";
    CPPUNIT_ASSERT_EQUAL(0, std::system(cmd.c_str()));
  }

  void open_before_check_closes_the_channel() {
    start_helper();
    UniqueFd ch = new_channel();
    MessageBuilder b(MsgType::kOpenMaildrop);
    CPPUNIT_ASSERT(send_message(ch.get(), b.view()).ok());
    assert_closed(ch);
    assert_logged("open-maildrop is not permitted now");
  }

  void open_after_failed_check_closes_the_channel() {
    start_helper();
    UniqueFd ch = new_channel();
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kBadPassword), int(check(ch, "alice", "wrong")));
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kUnknownUser), int(check(ch, "mallory", "right")));
    MessageBuilder b(MsgType::kOpenMaildrop);
    CPPUNIT_ASSERT(send_message(ch.get(), b.view()).ok());
    assert_closed(ch);
  }

  void good_check_then_one_open_only() {
    start_helper();
    UniqueFd ch = new_channel();
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kOk), int(check(ch, "alice", "right")));
    MessageBuilder b(MsgType::kOpenMaildrop);
    CPPUNIT_ASSERT(send_message(ch.get(), b.view()).ok());
    Result<ReceivedMessage> got = receive_message(ch.get(), kMaxAgentMessageSize);
    CPPUNIT_ASSERT_MESSAGE(got ? "" : got.error().message, got.ok());
    CPPUNIT_ASSERT(got->fd.valid());  // the agent's socket
    OpenOutcome opened = client_receive_listing(std::move(got->fd));
    if (::geteuid() == 0) {
      // As root the agent became uid 65534 and opened its Maildir.
      CPPUNIT_ASSERT_MESSAGE(opened.reason, opened.status == OpenStatus::kOk);
      CPPUNIT_ASSERT_EQUAL(size_t{0}, opened.maildrop->count());
    } else {
      CPPUNIT_ASSERT(opened.status == OpenStatus::kTempFail);  // could not drop to the user
    }
    opened.maildrop.reset();
    // Once only: a second open on the same good check ends the channel.
    MessageBuilder again(MsgType::kOpenMaildrop);
    CPPUNIT_ASSERT(send_message(ch.get(), again.view()).ok());
    assert_closed(ch);
    assert_logged("open-maildrop is not permitted now");
  }

  void malformed_requests_close_the_channel_and_are_logged() {
    start_helper();
    {
      UniqueFd ch = new_channel();
      const std::string big(kMaxRequestSize + 1, 'A');
      CPPUNIT_ASSERT(send_message(ch.get(), big).ok());
      assert_closed(ch);
      assert_logged("oversized message");
    }
    {
      UniqueFd ch = new_channel();
      MessageBuilder b(MsgType::kCheckCredentials);
      encode_check_request(b, std::string("alice\0root", 10), "right");
      CPPUNIT_ASSERT(send_message(ch.get(), b.view()).ok());
      assert_closed(ch);
      assert_logged("contains a NUL byte");
    }
    {
      UniqueFd ch = new_channel();
      std::string raw = std::string("\0\0\0\x06\x63x", 6);  // type 99
      CPPUNIT_ASSERT(send_message(ch.get(), raw).ok());
      assert_closed(ch);
      assert_logged("unknown message type 99");
    }
    {
      UniqueFd ch = new_channel();
      std::string raw = std::string("\0\0\0\x09\x01\0\x05", 7);  // cut short
      raw[3] = 7;
      CPPUNIT_ASSERT(send_message(ch.get(), raw).ok());
      assert_closed(ch);
      assert_logged("truncated check-credentials message");
    }
    // The helper itself lives on and serves other channels.
    UniqueFd ch = new_channel();
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kOk), int(check(ch, "alice", "right")));
  }

  void answers_are_not_requests() {
    start_helper();
    UniqueFd ch = new_channel();
    MessageBuilder b(MsgType::kNewChannel);  // only the master may say this
    UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    CPPUNIT_ASSERT(send_message(ch.get(), b.view(), devnull.get()).ok());
    assert_closed(ch);
    assert_logged("descriptor came with a request");
  }

  void checks_are_rate_limited() {
    start_helper(/*burst=*/3);
    UniqueFd ch = new_channel();
    for (int i = 0; i < 3; ++i) {
      CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kBadPassword), int(check(ch, "alice", "wrong")));
    }
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kTryLater), int(check(ch, "alice", "right")));
    assert_logged("rate limit");
    // Another worker's channel has its own bucket.
    UniqueFd other = new_channel();
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kOk), int(check(other, "alice", "right")));
  }

  void check_before_session_start_closes_the_channel() {
    start_helper();
    UniqueFd ch = new_channel(/*session=*/false);
    MessageBuilder b(MsgType::kCheckCredentials);
    encode_check_request(b, "alice", "right");
    CPPUNIT_ASSERT(send_message(ch.get(), b.view()).ok());
    assert_closed(ch);
    assert_logged("check-credentials is not permitted now");
  }

  void session_start_needs_a_connected_tcp_socket() {
    start_helper();
    struct Case {
      const char* what;
      UniqueFd fd;
      const char* logged;
    };
    int pair[2];
    CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
    UniqueFd unix_end(pair[0]);
    UniqueFd unix_other(pair[1]);
    std::vector<Case> cases;
    cases.push_back({"a file", UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
                     "the descriptor is not a socket"});
    cases.push_back(
        {"an AF_UNIX stream", std::move(unix_end), "the socket is not an IPv4 or IPv6 socket"});
    cases.push_back({"a UDP socket", UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)),
                     "the socket is not a stream socket"});
    for (Case& c : cases) {
      UniqueFd ch = new_channel(/*session=*/false);
      start_session_with(ch, c.fd.get());
      assert_closed(ch);
      assert_logged(std::string("session-start: ") + c.logged);
    }
    // A TCP socket without a peer (the client reset the connection before
    // the helper looked): the channel stays, but nothing is checked for a
    // session without an address.
    {
      UniqueFd ch = new_channel(/*session=*/false);
      UniqueFd unconnected(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      start_session_with(ch, unconnected.get());
      CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kTempFail), int(check(ch, "alice", "right")));
      assert_logged("user=alice rip=: the client's connection was gone at session start");
    }
    // Without a descriptor at all.
    UniqueFd ch = new_channel(/*session=*/false);
    MessageBuilder b(MsgType::kSessionStart);
    CPPUNIT_ASSERT(send_message(ch.get(), b.view()).ok());
    assert_closed(ch);
    assert_logged("session-start without a descriptor");
  }

  void failures_are_logged_with_the_address_of_the_socket() {
    start_helper();
    UniqueFd ch = new_channel(/*session=*/false);
    UniqueFd client;
    UniqueFd server = accepted_tcp_socket("127.0.0.7", &client);
    start_session_with(ch, server.get());
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kBadPassword), int(check(ch, "alice", "not-it-9")));
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kUnknownUser), int(check(ch, "mallory", "not-it-9")));
    // The same words for both, the socket's address, never the password.
    assert_logged("privsep: check failed: user=alice rip=127.0.0.7\n");
    assert_logged("privsep: check failed: user=mallory rip=127.0.0.7\n");
    const std::string log = read_file(log_);
    CPPUNIT_ASSERT(log.find("not-it-9") == std::string::npos);
  }

  void a_new_session_forgets_the_last_good_check() {
    start_helper();
    UniqueFd ch = new_channel();
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kOk), int(check(ch, "alice", "right")));
    UniqueFd server = accepted_tcp_socket("127.0.0.1", nullptr);
    start_session_with(ch, server.get());
    MessageBuilder b(MsgType::kOpenMaildrop);
    CPPUNIT_ASSERT(send_message(ch.get(), b.view()).ok());
    assert_closed(ch);
    assert_logged("open-maildrop is not permitted now");
  }

  void a_trusted_proxys_client_address_is_the_sessions() {
    start_helper(kCheckBurst, {"127.0.0.9"});
    UniqueFd ch = new_channel(/*session=*/false);
    UniqueFd server = accepted_tcp_socket("127.0.0.9", nullptr);
    start_session_with(ch, server.get(), "192.0.2.55");
    CPPUNIT_ASSERT_EQUAL(int(AccountCheck::kBadPassword), int(check(ch, "alice", "not-it")));
    assert_logged("privsep: check failed: user=alice rip=192.0.2.55\n");
  }

  void a_proxied_address_from_an_untrusted_peer_closes_the_channel() {
    start_helper(kCheckBurst, {"127.0.0.9"});
    UniqueFd ch = new_channel(/*session=*/false);
    UniqueFd server = accepted_tcp_socket("127.0.0.8", nullptr);
    start_session_with(ch, server.get(), "192.0.2.55");
    assert_closed(ch);
    assert_logged(
        "a proxied client address for a connection from 127.0.0.8, which is no "
        "trusted proxy");
  }

  void a_proxied_address_is_refused_when_the_protocol_is_off() {
    start_helper();
    UniqueFd ch = new_channel(/*session=*/false);
    UniqueFd server = accepted_tcp_socket("127.0.0.9", nullptr);
    start_session_with(ch, server.get(), "192.0.2.55");
    assert_closed(ch);
    assert_logged("which is no trusted proxy");
  }

  void token_bucket_refills() {
    const auto t0 = TokenBucket::Clock::now();
    TokenBucket bucket(2.0, 2.0, t0);
    CPPUNIT_ASSERT(bucket.take(t0));
    CPPUNIT_ASSERT(bucket.take(t0));
    CPPUNIT_ASSERT(!bucket.take(t0));
    CPPUNIT_ASSERT(bucket.take(t0 + std::chrono::milliseconds(600)));
    CPPUNIT_ASSERT(!bucket.take(t0 + std::chrono::milliseconds(600)));
  }

 private:
  // `proxies`: the trusted proxies of pop3.proxy_protocol (on when any).
  void start_helper(double burst = kCheckBurst, const std::vector<std::string>& proxies = {}) {
    const uid_t uid = ::geteuid() == 0 ? 65534 : ::geteuid() + 1;
    const std::string home = dir_ + "/home";
    ::mkdir(home.c_str(), 0700);
    if (::geteuid() == 0) CPPUNIT_ASSERT_EQUAL(0, ::chown(home.c_str(), uid, uid));
    const std::string stored = hash_password("SHA512-CRYPT", "right");
    const std::string hash = stored.substr(stored.find('}') + 1);
    int sv[2];
    CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
    control_.reset(sv[0]);
    UniqueFd helper_end(sv[1]);
    pid_ = ::fork();
    CPPUNIT_ASSERT(pid_ >= 0);
    if (pid_ == 0) {
      control_.reset();
      (void)Logger::instance().configure(log_, LogLevel::kDebug);
      OneUserSource source(uid, home, hash);
      HelperOptions options;
      options.first_valid_uid = 1000;
      options.log_target = log_;
      options.log_level = LogLevel::kDebug;
      options.checks_per_second = 0.001;
      options.check_burst = burst;
      options.proxy_protocol = !proxies.empty();
      options.proxy_trusted = *IpList::parse(proxies);
      SystemUsers users(source, options.mail_location, options.first_valid_uid);
      Helper helper(users, options);
      ::_exit(helper.run(std::move(helper_end)));
    }
  }

  void stop_helper() {
    control_.reset();  // the helper stops when the master's end closes
    if (pid_ > 0) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      CPPUNIT_ASSERT(WIFEXITED(status));
      CPPUNIT_ASSERT_EQUAL(0, WEXITSTATUS(status));
    }
    pid_ = 0;
    // Back to stderr for the suites that follow.
    (void)Logger::instance().configure("stderr", LogLevel::kInfo);
  }

  // A channel as a worker has it; with `session`, a session from
  // 127.0.0.1 has started on it.
  UniqueFd new_channel(bool session = true) {
    int sv[2];
    CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
    UniqueFd mine(sv[0]);
    UniqueFd theirs(sv[1]);
    CPPUNIT_ASSERT(master_hand_channel(control_.get(), theirs).ok());
    timeval tv{10, 0};
    ::setsockopt(mine.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (session) {
      UniqueFd server = accepted_tcp_socket("127.0.0.1", nullptr);
      start_session_with(mine, server.get());
    }
    return mine;
  }

  AccountCheck check(const UniqueFd& ch, const std::string& user, const std::string& password) {
    MessageBuilder b(MsgType::kCheckCredentials);
    encode_check_request(b, user, password);
    CPPUNIT_ASSERT(send_message(ch.get(), b.view()).ok());
    Result<ReceivedMessage> got = receive_message(ch.get(), kMaxAgentMessageSize);
    CPPUNIT_ASSERT_MESSAGE(got ? "" : got.error().message, got.ok());
    Result<MessageReader> r = MessageReader::parse(got->bytes, kMaxAgentMessageSize);
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT(r->type() == MsgType::kCheckAnswer);
    Result<CheckAnswer> answer = decode_check_answer(*r);
    CPPUNIT_ASSERT(answer.ok());
    if (answer->check == AccountCheck::kOk) {
      CPPUNIT_ASSERT_EQUAL(std::string("alice"), answer->user.name);
      CPPUNIT_ASSERT_EQUAL(dir_ + "/home/Maildir", answer->user.maildir);
    }
    return answer->check;
  }

  void assert_closed(const UniqueFd& ch) {
    Result<ReceivedMessage> got = receive_message(ch.get(), kMaxAgentMessageSize);
    CPPUNIT_ASSERT(!got.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("eof"), got.error().message);
  }

  void assert_logged(const std::string& text) {
    const std::string log = read_file(log_);
    CPPUNIT_ASSERT_MESSAGE("log lacks \"" + text + "\":\n" + log,
                           log.find(text) != std::string::npos);
  }

  std::string dir_;
  std::string log_;
  UniqueFd control_;
  pid_t pid_ = 0;
};

CPPUNIT_TEST_SUITE_REGISTRATION(PrivsepHelperTest);

}  // namespace pop3d
