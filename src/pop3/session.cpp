// run_session() and the session loop: greeting, reading commands with their
// deadlines, dispatching through the state's command table, writing replies,
// counting bad commands, STLS and the end of the session.
#include "pop3/session.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <random>

#include "log/logger.hpp"
#include "pop3/limits.hpp"
#include "pop3/pop3_session.hpp"
#include "util/hex.hpp"

namespace pop3d {

namespace {

// Pre-login writes go out in pieces of at most this size: small enough that
// a piece fits into the socket after one wait for buffer space (Linux
// reports a TCP socket writable once a third of its send buffer is free,
// and that buffer is never under 4 KiB), large enough that a greeting or a
// CAPA answer is one piece.
constexpr size_t kPreLoginWritePiece = 1024;

// Before login every write shares the login deadline that reads already
// have: a client that pipelines commands and never reads the answers would
// otherwise hold its worker for pop3.idle_timeout per blocked write, on top
// of pop3.login_timeout. After login the writer's own time-out (idle time)
// applies unchanged.
class LoginDeadlineTransport final : public Transport {
 public:
  using Clock = std::chrono::steady_clock;
  // Empty while no login deadline applies.
  using Deadline = std::function<std::optional<Clock::time_point>()>;

  // Every byte to the client passes here, before and after STLS: `policy`
  // hears how many (SessionPolicy::sent).
  LoginDeadlineTransport(std::unique_ptr<Transport> inner, Deadline deadline, SessionPolicy& policy)
      : inner_(std::move(inner)), deadline_(std::move(deadline)), policy_(policy) {}

  // STLS: the TLS transport takes the place of the plain one, which is
  // handed back (it must outlive the TLS transport that uses its socket).
  std::unique_ptr<Transport> replace_inner(std::unique_ptr<Transport> next) {
    std::swap(inner_, next);
    return next;
  }
  Transport& inner() { return *inner_; }

  IoResult read_some(char* buf, size_t len, std::chrono::milliseconds timeout) override {
    return inner_->read_some(buf, len, timeout);  // the line reader has the deadline already
  }

  IoResult write_all(std::string_view data, std::chrono::milliseconds timeout) override {
    const IoResult r = write_within_deadline(data, timeout);
    if (r.bytes > 0) policy_.sent(r.bytes);
    return r;
  }

  bool has_buffered_input() const override { return inner_->has_buffered_input(); }
  bool is_tls() const override { return inner_->is_tls(); }

  std::optional<IoResult> send_file(int fd, off_t offset, size_t len,
                                    std::chrono::milliseconds timeout) override {
    const std::optional<Clock::time_point> deadline = deadline_();
    std::optional<IoResult> r =
        inner_->send_file(fd, offset, len, deadline ? capped(timeout, *deadline) : timeout);
    if (r && r->bytes > 0) policy_.sent(r->bytes);
    return r;
  }

 private:
  IoResult write_within_deadline(std::string_view data, std::chrono::milliseconds timeout) {
    const std::optional<Clock::time_point> deadline = deadline_();
    if (!deadline) return inner_->write_all(data, timeout);
    // Both transports restart their wait whenever some bytes go out, so
    // one large write to a client that reads a little now and then could
    // outlast the deadline many times over. Small pieces, each given only
    // what is left, keep the deadline whatever the client's pace; before
    // login nothing long is sent to an honest client.
    size_t done = 0;
    while (done < data.size()) {
      const size_t piece = std::min(data.size() - done, kPreLoginWritePiece);
      const IoResult r = inner_->write_all(data.substr(done, piece), capped(timeout, *deadline));
      done += r.bytes;
      if (r.status != IoStatus::kOk) return {r.status, done};
    }
    return {IoStatus::kOk, done};
  }

  // Past the deadline the time left is zero, not negative: what fits into
  // the socket at once (the goodbye after a login time-out) still goes out,
  // nothing waits.
  static std::chrono::milliseconds capped(std::chrono::milliseconds timeout,
                                          Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return std::clamp(left, std::chrono::milliseconds::zero(), timeout);
  }

  std::unique_ptr<Transport> inner_;
  Deadline deadline_;
  SessionPolicy& policy_;
};

}  // namespace

Reply Reply::good(std::string text) {
  Reply r;
  r.text = std::move(text);
  return r;
}

Reply Reply::fail(std::string text) {
  Reply r;
  r.ok = false;
  r.text = std::move(text);
  return r;
}

Reply Reply::bad(std::string text) {
  Reply r = fail(std::move(text));
  r.bad_command = true;
  return r;
}

Reply Reply::multiline_reply(std::string text, std::vector<std::string> lines) {
  Reply r = good(std::move(text));
  r.multiline = true;
  r.lines = std::move(lines);
  return r;
}

Reply Reply::end(Reply reply, std::string reason) {
  reply.after = After::kEnd;
  reply.end_reason = std::move(reason);
  return reply;
}

// Both tables are searched by the upper-cased keyword. A command of the
// other state is simply unknown here, as RFC 1939 allows.
const std::vector<Pop3Session::CommandSpec> Pop3Session::kAuthorizationCommands = {
    {"USER", &Pop3Session::cmd_user, 1, 1},
    {"PASS", &Pop3Session::cmd_pass, 1, 1, true},
    {"APOP", &Pop3Session::cmd_apop, 2, 2},
    {"AUTH", &Pop3Session::cmd_auth, 0, 2},
    {"CAPA", &Pop3Session::cmd_capa, 0, 0},
    {"STLS", &Pop3Session::cmd_stls, 0, 0},
    {"QUIT", &Pop3Session::cmd_quit_authorization, 0, 0},
};

const std::vector<Pop3Session::CommandSpec> Pop3Session::kTransactionCommands = {
    {"STAT", &Pop3Session::cmd_stat, 0, 0}, {"LIST", &Pop3Session::cmd_list, 0, 1},
    {"UIDL", &Pop3Session::cmd_uidl, 0, 1}, {"RETR", &Pop3Session::cmd_retr, 1, 1},
    {"TOP", &Pop3Session::cmd_top, 2, 2},   {"DELE", &Pop3Session::cmd_dele, 1, 1},
    {"NOOP", &Pop3Session::cmd_noop, 0, 0}, {"RSET", &Pop3Session::cmd_rset, 0, 0},
    {"CAPA", &Pop3Session::cmd_capa, 0, 0}, {"QUIT", &Pop3Session::cmd_quit_transaction, 0, 0},
};

Pop3Session::Pop3Session(SessionContext& context, std::unique_ptr<Transport> transport,
                         std::string apop_timestamp)
    : ctx_(context),
      transport_(std::make_unique<LoginDeadlineTransport>(
          std::move(transport),
          [this]() -> std::optional<Clock::time_point> {
            if (state_ != State::kAuthorization) return std::nullopt;
            return started_ + ctx_.settings.pop3.login_timeout;
          },
          context.policy)),
      reader_(pop3_limits::kInputBuffer),
      writer_(*transport_, context.settings.pop3.idle_timeout),
      apop_timestamp_(std::move(apop_timestamp)),
      started_(Clock::now()) {}

std::string Pop3Session::make_apop_timestamp(std::string_view hostname) {
  unsigned char random[pop3_limits::kApopRandomBytes];
  if (::getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
    std::random_device device;
    for (auto& b : random) b = static_cast<unsigned char>(device());
  }
  std::string ts = "<" + std::to_string(::getpid()) + "." +
                   hex_lower({reinterpret_cast<const char*>(random), sizeof random}) + "@";
  ts += hostname.empty() ? std::string_view("localhost") : hostname;
  ts += ">";
  return ts;
}

bool Pop3Session::plaintext_allowed() const {
  return ctx_.settings.pop3.plaintext_auth == PlaintextAuth::kAllow || transport_->is_tls() ||
         ctx_.client_is_secure;
}

bool Pop3Session::stls_offered() const {
  return ctx_.tls != nullptr && ctx_.settings.pop3.explicit_ssl && !transport_->is_tls();
}

Pop3Session::Clock::time_point Pop3Session::input_deadline() const {
  // Before login the limit is a total from the connection's start, so a
  // client trickling bytes cannot stretch it; after login, idle time.
  if (state_ == State::kAuthorization) return started_ + ctx_.settings.pop3.login_timeout;
  return Clock::now() + ctx_.settings.pop3.idle_timeout;
}

SessionSummary Pop3Session::run() {
  std::string greeting = "pop3d ready.";
  if (!apop_timestamp_.empty()) greeting += " " + apop_timestamp_;
  writer_.ok(greeting);

  while (true) {
    if (!reader_.has_complete_line() && !writer_.flush()) {
      end_for_write_failure();
      break;
    }
    const LineReader::Line in =
        reader_.next(*transport_, pop3_limits::kMaxCommandLine, input_deadline());
    // Any line before login may carry a password: PASS, AUTH and its
    // responses, or one typed where it does not belong.
    const bool before_login = state_ == State::kAuthorization;
    Reply reply;
    if (in.status == LineReader::Status::kLine || in.status == LineReader::Status::kTooLong) {
      if (ctx_.policy.client_blocked()) {
        // SYS/TEMP, as a blocked client gets at connect: SYS/PERM would
        // tell a client never to retry, and the block does end.
        reply = Reply::end(
            Reply::fail("[SYS/TEMP] Access from your address is temporarily blocked."), "blocked");
      } else if (in.status == LineReader::Status::kTooLong) {
        pending_user_.clear();
        reply = Reply::bad("Line too long.");
      } else {
        reply = dispatch(in.line);
      }
    } else {
      reply = input_ended(in.status);
    }
    if (before_login) reader_.wipe_consumed();
    if (!send(std::move(reply))) break;
  }
  return std::move(summary_);
}

Reply Pop3Session::input_ended(LineReader::Status status) {
  switch (status) {
    case LineReader::Status::kTimeout:
      return Reply::end(Reply::fail("Disconnected for inactivity."), "timeout");
    case LineReader::Status::kEof: {
      Reply r = Reply::end(Reply{}, "disconnect");
      r.silent = true;
      return r;
    }
    default: {
      Reply r = Reply::end(Reply{}, "error: read failed");
      r.silent = true;
      return r;
    }
  }
}

Reply Pop3Session::dispatch(std::string_view line) {
  command_started_ = std::chrono::steady_clock::now();
  if (line.find('\0') != std::string_view::npos) {
    pending_user_.clear();
    return Reply::bad("NUL bytes are not allowed in commands.");
  }
  std::optional<Command> cmd = parse_command(line);
  if (!cmd) {
    pending_user_.clear();
    return Reply::bad("Unknown command.");
  }
  // RFC 1939 7: PASS only right after USER; anything else forgets the name.
  if (cmd->name != "PASS") pending_user_.clear();

  const auto& table =
      state_ == State::kAuthorization ? kAuthorizationCommands : kTransactionCommands;
  for (const CommandSpec& spec : table) {
    if (spec.name != cmd->name) continue;
    if (spec.takes_rest) {
      if (cmd->rest.empty()) return Reply::bad("Missing argument.");
    } else if (cmd->empty_argument) {
      return Reply::bad("Invalid arguments: empty argument.");
    } else if (cmd->args.size() < spec.min_args) {
      return Reply::bad("Missing argument.");
    } else if (cmd->args.size() > spec.max_args) {
      return Reply::bad("Too many arguments.");
    }
    return (this->*spec.handler)(*cmd);
  }
  return Reply::bad("Unknown command: " + cmd->name);
}

bool Pop3Session::send(Reply reply) {
  if (!reply.silent) {
    if (reply.ok) {
      writer_.ok(reply.text);
    } else {
      writer_.err(reply.text);
    }
    if (reply.multiline) {
      for (const std::string& l : reply.lines) writer_.line(l);
      writer_.end_multiline();
    }
    if (reply.listing != Reply::Listing::kNone && !write_listing(reply.listing)) return false;
    if (reply.stream && !stream_message(*reply.stream)) return false;
  }

  if (!reply.bad_command) {
    bad_commands_ = 0;
  } else if (++bad_commands_ >= pop3_limits::kMaxBadCommands) {
    writer_.err("Too many bad commands.");
    writer_.flush();
    summary_.end = "too many errors";
    return false;
  }

  switch (reply.after) {
    case Reply::After::kEnd:
      writer_.flush();
      summary_.end = reply.end_reason;
      return false;
    case Reply::After::kStartTls:
      return start_tls();
    case Reply::After::kContinue:
      break;
  }
  if (!writer_.flush_if_full()) return end_for_write_failure();
  return true;
}

bool Pop3Session::end_for_write_failure() {
  summary_.end = writer_.failure() == IoStatus::kTimeout ? "timeout" : "disconnect";
  return false;
}

bool Pop3Session::start_tls() {
  if (!writer_.flush()) return end_for_write_failure();
  // Whatever the client sent after STLS arrived in the clear and could have
  // been injected by a man in the middle: it is never executed.
  reader_.discard_buffered();
  // transport_ is always the login-deadline wrapper (see the constructor);
  // the upgrader needs the socket transport under it.
  auto& bounded = static_cast<LoginDeadlineTransport&>(*transport_);
  std::unique_ptr<Transport> tls = ctx_.tls->upgrade(bounded.inner());
  if (!tls) {
    log_info("STLS handshake failed: rip=" + ctx_.client_address);
    summary_.end = "error: tls handshake";
    return false;
  }
  plain_transport_ = bounded.replace_inner(std::move(tls));
  // RFC 2595 4: the client must forget what it learned before TLS; the
  // server forgets the half-done login the same way.
  state_ = State::kAuthorization;
  pending_user_.clear();
  bad_commands_ = 0;
  return true;
}

Reply Pop3Session::cmd_capa(const Command&) {
  std::vector<std::string> caps = {"TOP",        "UIDL",        "RESP-CODES", "AUTH-RESP-CODE",
                                   "PIPELINING", "EXPIRE NEVER"};
  if (state_ == State::kAuthorization) {
    // RFC 2595 / RFC 2449: do not advertise what the policy would refuse.
    if (plaintext_allowed()) {
      caps.emplace_back("USER");
      caps.emplace_back("SASL PLAIN LOGIN");
    }
    if (stls_offered()) caps.emplace_back("STLS");
  }
  caps.emplace_back("IMPLEMENTATION pop3d");
  return Reply::multiline_reply("Capability list follows", std::move(caps));
}

SessionSummary run_session(SessionContext& context, std::unique_ptr<Transport> transport) {
  std::string timestamp;
  if (context.users.apop_available())
    timestamp = Pop3Session::make_apop_timestamp(context.hostname);
  Pop3Session session(context, std::move(transport), std::move(timestamp));
  return session.run();
}

}  // namespace pop3d
