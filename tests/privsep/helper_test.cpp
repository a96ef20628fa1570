// The privileged helper as a real process on a real channel: its state
// table (open-maildrop only once and only after a good check), its
// refusal of malformed and oversized requests (the channel is closed and
// the refusal logged), and its rate limit.
#include <cppunit/extensions/HelperMacros.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

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

class PrivsepHelperTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(PrivsepHelperTest);
  CPPUNIT_TEST(open_before_check_closes_the_channel);
  CPPUNIT_TEST(open_after_failed_check_closes_the_channel);
  CPPUNIT_TEST(good_check_then_one_open_only);
  CPPUNIT_TEST(malformed_requests_close_the_channel_and_are_logged);
  CPPUNIT_TEST(answers_are_not_requests);
  CPPUNIT_TEST(checks_are_rate_limited);
  CPPUNIT_TEST(token_bucket_refills);
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
      encode_check_request(b, std::string("alice\0root", 10), "right", "127.0.0.1");
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
  void start_helper(double burst = kCheckBurst) {
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

  UniqueFd new_channel() {
    int sv[2];
    CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
    UniqueFd mine(sv[0]);
    UniqueFd theirs(sv[1]);
    CPPUNIT_ASSERT(master_hand_channel(control_.get(), theirs).ok());
    timeval tv{10, 0};
    ::setsockopt(mine.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return mine;
  }

  AccountCheck check(const UniqueFd& ch, const std::string& user, const std::string& password) {
    MessageBuilder b(MsgType::kCheckCredentials);
    encode_check_request(b, user, password, "127.0.0.1");
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
