// The AUTHORIZATION state: USER/PASS, APOP, AUTH (SASL PLAIN and LOGIN,
// RFC 5034), STLS and the login itself. Passwords pass through here and
// are never logged; failures look alike to the client whatever the cause.
#include <string.h>  // explicit_bzero

#include <thread>

#include "log/logger.hpp"
#include "pop3/limits.hpp"
#include "pop3/log_fields.hpp"
#include "pop3/pop3_session.hpp"
#include "stats/session_metrics.hpp"
#include "util/base64.hpp"

namespace pop3d {

namespace {

constexpr std::string_view kPlaintextDisallowed =
    "[AUTH] Plaintext authentication disallowed on non-secure connections.";
constexpr std::string_view kAuthFailed = "[AUTH] Authentication failed.";

// base64 of "Username:" and "Password:", the prompts every LOGIN client
// expects (draft-murchison-sasl-login).
constexpr std::string_view kLoginUserPrompt = "VXNlcm5hbWU6";
constexpr std::string_view kLoginPasswordPrompt = "UGFzc3dvcmQ6";

// Credentials do not linger in freed memory.
void wipe(std::string& secret) {
  explicit_bzero(secret.data(), secret.size());
  secret.clear();
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace

Reply Pop3Session::cmd_user(const Command& cmd) {
  if (!plaintext_allowed()) return Reply::fail(std::string(kPlaintextDisallowed));
  const std::string_view name = cmd.args[0];
  if (name.size() > pop3_limits::kMaxUserName) return Reply::bad("User name too long.");
  pending_user_ = std::string(name);
  return Reply::good("");
}

Reply Pop3Session::cmd_pass(const Command& cmd) {
  if (!plaintext_allowed()) return Reply::fail(std::string(kPlaintextDisallowed));
  if (pending_user_.empty()) return Reply::bad("No username given.");
  const std::string name = std::exchange(pending_user_, {});
  return finish_login(name, ctx_.users.login(name, cmd.rest, ctx_.client_address), "USER");
}

Reply Pop3Session::cmd_apop(const Command& cmd) {
  if (apop_timestamp_.empty()) return Reply::fail("APOP is not available.");
  if (!plaintext_allowed()) return Reply::fail(std::string(kPlaintextDisallowed));
  const std::string_view name = cmd.args[0];
  if (name.size() > pop3_limits::kMaxUserName) return Reply::bad("User name too long.");
  const AuthOutcome outcome =
      ctx_.users.login_apop(name, apop_timestamp_, cmd.args[1], ctx_.client_address);
  return finish_login(name, outcome, "APOP");
}

Reply Pop3Session::cmd_auth(const Command& cmd) {
  if (!plaintext_allowed()) return Reply::fail(std::string(kPlaintextDisallowed));
  if (cmd.args.empty()) return Reply::multiline_reply("", {"PLAIN", "LOGIN"});

  const std::string mechanism = upper(cmd.args[0]);
  // Copied: the exchange reads more lines, which reuses the line buffer.
  std::optional<std::string> initial;
  if (cmd.args.size() == 2) initial = std::string(cmd.args[1]);
  if (mechanism == "PLAIN") return auth_plain(std::move(initial));
  if (mechanism == "LOGIN") return auth_login(std::move(initial));
  return Reply::fail("[AUTH] Unsupported authentication mechanism.");
}

std::optional<Reply> Pop3Session::sasl_exchange(std::string_view challenge, std::string& decoded) {
  writer_.continuation(challenge);
  if (!writer_.flush()) {
    Reply r =
        Reply::end(Reply{}, writer_.failure() == IoStatus::kTimeout ? "timeout" : "disconnect");
    r.silent = true;
    return r;
  }
  const LineReader::Line in =
      reader_.next(*transport_, pop3_limits::kMaxSaslLine, input_deadline());
  if (in.status == LineReader::Status::kTooLong) {
    return Reply::fail("[AUTH] Authentication response too long.");
  }
  if (in.status != LineReader::Status::kLine) return input_ended(in.status);
  // RFC 5034 4: "*" cancels the exchange.
  if (in.line == "*") return Reply::fail("Authentication cancelled.");
  std::optional<std::string> bytes = base64_decode(in.line);
  if (!bytes) return Reply::fail("Invalid base64 data in authentication response.");
  decoded = std::move(*bytes);
  return std::nullopt;
}

namespace {

// RFC 5034 4: an initial response of "=" is an empty one.
std::optional<std::string> decode_initial(const std::string& initial) {
  if (initial == "=") return std::string();
  return base64_decode(initial);
}

}  // namespace

Reply Pop3Session::auth_plain(std::optional<std::string> initial) {
  std::string message;
  if (initial) {
    std::optional<std::string> bytes = decode_initial(*initial);
    wipe(*initial);
    if (!bytes) return Reply::fail("Invalid base64 data in authentication response.");
    message = std::move(*bytes);
  } else if (std::optional<Reply> stop = sasl_exchange("", message)) {
    return std::move(*stop);
  }

  // RFC 4616: authzid NUL authcid NUL passwd, no other NUL.
  const size_t first = message.find('\0');
  const size_t second = first == std::string::npos ? first : message.find('\0', first + 1);
  if (second == std::string::npos || message.find('\0', second + 1) != std::string::npos) {
    wipe(message);
    return Reply::fail("[AUTH] Malformed PLAIN response.");
  }
  const std::string authzid = message.substr(0, first);
  const std::string authcid = message.substr(first + 1, second - first - 1);
  std::string password = message.substr(second + 1);
  wipe(message);
  if (!authzid.empty() && authzid != authcid) {
    wipe(password);
    login_failed(log_user(authcid) + ", method=PLAIN, rip=" + ctx_.client_address,
                 "authorization identity <" + log_bracketed(authzid) + "> differs");
    return Reply::fail("[AUTH] Authorization identity must match authentication identity.");
  }
  if (authcid.empty() || authcid.size() > pop3_limits::kMaxUserName || password.empty()) {
    wipe(password);
    return Reply::fail(std::string(kAuthFailed));
  }
  const AuthOutcome outcome = ctx_.users.login(authcid, password, ctx_.client_address);
  wipe(password);
  return finish_login(authcid, outcome, "PLAIN");
}

Reply Pop3Session::auth_login(std::optional<std::string> initial) {
  std::string name;
  if (initial) {
    std::optional<std::string> bytes = decode_initial(*initial);
    if (!bytes) return Reply::fail("Invalid base64 data in authentication response.");
    name = std::move(*bytes);
  } else if (std::optional<Reply> stop = sasl_exchange(kLoginUserPrompt, name)) {
    return std::move(*stop);
  }
  std::string password;
  if (std::optional<Reply> stop = sasl_exchange(kLoginPasswordPrompt, password)) {
    return std::move(*stop);
  }
  if (name.empty() || name.size() > pop3_limits::kMaxUserName || password.empty() ||
      name.find('\0') != std::string::npos) {
    wipe(password);
    return Reply::fail(std::string(kAuthFailed));
  }
  const AuthOutcome outcome = ctx_.users.login(name, password, ctx_.client_address);
  wipe(password);
  return finish_login(name, outcome, "LOGIN");
}

void Pop3Session::login_failed(const std::string& who, const std::string& reason) {
  // The format is what etc/fail2ban/filter.d/pop3d.conf matches.
  log_info("login failed: " + who + ", reason=" + reason);
  ctx_.policy.login_failed();
  std::this_thread::sleep_for(ctx_.settings.auth.failure_delay);
}

Reply Pop3Session::finish_login(std::string_view name, const AuthOutcome& outcome,
                                std::string_view mechanism) {
  const std::string who =
      log_user(name) + ", method=" + std::string(mechanism) + ", rip=" + ctx_.client_address;
  if (outcome.status != AuthStatus::kOk) {
    count_login(ctx_.metrics, mechanism, login_result_for(outcome), command_started_);
  }
  switch (outcome.status) {
    case AuthStatus::kOk:
      break;
    case AuthStatus::kUnknownUser:
    case AuthStatus::kBadPassword:
      // One reply and one delay for both, so neither tells which names
      // exist; the delay also slows down password guessing.
      login_failed(who, log_escape(outcome.reason));
      // Set only after a right password (nologin with reason=).
      return Reply::fail(outcome.client_message.empty() ? std::string(kAuthFailed)
                                                        : outcome.client_message);
    case AuthStatus::kTempFail:
      log_notice("login failed temporarily: " + who + ", reason=" + log_escape(outcome.reason));
      return Reply::fail("[SYS/TEMP] Temporary authentication failure, try again later.");
  }
  ctx_.policy.login_succeeded();

  OpenOutcome opened = ctx_.store.open(outcome.user);
  count_login(ctx_.metrics, mechanism,
              opened.status == OpenStatus::kOk && opened.maildrop
                  ? LoginResult::kOk
                  : LoginResult::kMailboxUnavailable,
              command_started_);
  switch (opened.status) {
    case OpenStatus::kOk:
      break;
    case OpenStatus::kInUse:
      log_info("maildrop in use: " + who +
               (opened.reason.empty() ? "" : ", reason=" + log_escape(opened.reason)));
      return Reply::fail("[IN-USE] Mailbox is locked by another POP3 session.");
    case OpenStatus::kTempFail:
      log_error("cannot open maildrop: " + who + ", reason=" + log_escape(opened.reason));
      return Reply::fail("[SYS/TEMP] Unable to open the mailbox, try again later.");
    case OpenStatus::kPermFail:
      log_error("cannot open maildrop: " + who + ", reason=" + log_escape(opened.reason));
      return Reply::fail("[SYS/PERM] Unable to open the mailbox.");
  }
  if (!opened.maildrop) {
    log_error("mail store returned no maildrop: " + who);
    return Reply::fail("[SYS/TEMP] Unable to open the mailbox, try again later.");
  }

  maildrop_ = std::move(opened.maildrop);
  deleted_.assign(maildrop_->count(), false);
  state_ = State::kTransaction;
  summary_.user = outcome.user.name.empty() ? std::string(name) : outcome.user.name;
  ctx_.policy.logged_in(summary_.user);
  log_info("login: " + who + ", messages=" + std::to_string(maildrop_->count()));
  return Reply::good("Logged in.");
}

Reply Pop3Session::cmd_stls(const Command&) {
  if (transport_->is_tls()) return Reply::fail("TLS is already active.");
  if (!stls_offered()) return Reply::fail("STLS is not available.");
  Reply r = Reply::good("Begin TLS negotiation.");
  r.after = Reply::After::kStartTls;
  return r;
}

Reply Pop3Session::cmd_quit_authorization(const Command&) {
  return Reply::end(Reply::good("Logging out."), "quit");
}

}  // namespace pop3d
