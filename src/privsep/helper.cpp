#include "privsep/helper.hpp"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <memory>

#include "daemon/signals.hpp"
#include "log/logger.hpp"
#include "privsep/agent.hpp"
#include "util/child_exit.hpp"

namespace pop3d {

namespace {

// Exit codes of the helper process.
constexpr int kHelperExitOk = 0;
constexpr int kHelperExitError = 1;

}  // namespace

bool TokenBucket::take(Clock::time_point now) {
  const std::chrono::duration<double> elapsed = now - last_;
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + std::max(0.0, elapsed.count()) * per_second_);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

const Helper::Dispatch Helper::kDispatch[] = {
    {MsgType::kCheckCredentials, kPermitCheck, false, &Helper::helper_check_credentials},
    {MsgType::kOpenMaildrop, kPermitOpen, true, &Helper::helper_open_maildrop},
};

Helper::Helper(CredentialChecker& checker, HelperOptions options)
    : checker_(checker), options_(std::move(options)) {}

void Helper::refuse(Channel& channel, const std::string& why) {
  log_warning("privsep: channel " + std::to_string(channel.id) + ": " + log_escape(why, 300) +
              "; closing the channel");
}

void Helper::helper_accept_channel(int control) {
  Result<ReceivedMessage> got = receive_message(control, kMaxRequestSize);
  if (!got) {
    if (got.error().message != "eof") log_error("privsep: control socket: " + got.error().message);
    return;
  }
  Result<MessageReader> r = MessageReader::parse(got->bytes, kMaxRequestSize);
  if (!r || r->type() != MsgType::kNewChannel || !r->finish() || !got->fd) {
    log_error("privsep: malformed message on the control socket; ignored");
    return;
  }
  if (channels_.size() >= kMaxChannels) {
    log_error("privsep: " + std::to_string(kMaxChannels) + " channels open; refusing another");
    return;
  }
  channels_.push_back(Channel{
      std::move(got->fd), next_id_++, kPermitCheck, std::nullopt,
      TokenBucket(options_.checks_per_second, options_.check_burst, TokenBucket::Clock::now())});
}

bool Helper::serve(Channel& channel) {
  Result<ReceivedMessage> got = receive_message(channel.fd.get(), kMaxRequestSize);
  if (!got) {
    if (got.error().message == "eof") return false;  // the worker is gone
    refuse(channel, got.error().message);
    return false;
  }
  if (got->fd) {
    refuse(channel, "a descriptor came with a request");
    return false;
  }
  Result<MessageReader> r = MessageReader::parse(got->bytes, kMaxRequestSize);
  if (!r) {
    refuse(channel, r.error().message);
    return false;
  }
  for (const Dispatch& d : kDispatch) {
    if (d.type != r->type()) continue;
    if ((channel.permits & d.needs) == 0) {
      refuse(channel, std::string(msg_type_name(d.type)) + " is not permitted now");
      return false;
    }
    if (d.once) channel.permits &= ~d.needs;
    return (this->*d.handler)(channel, *r);
  }
  refuse(channel, std::string(msg_type_name(r->type())) + " is not a request to the helper");
  return false;
}

bool Helper::helper_check_credentials(Channel& channel, MessageReader& request) {
  Result<CheckRequest> req = decode_check_request(request);
  if (!req) {
    refuse(channel, "check-credentials: " + req.error().message);
    return false;
  }
  // Whatever happens now, no earlier check opens a maildrop any more.
  channel.permits &= ~kPermitOpen;
  channel.checked.reset();
  CheckAnswer answer;
  if (!channel.bucket.take(TokenBucket::Clock::now())) {
    answer.check = AccountCheck::kTryLater;
    log_notice("privsep: channel " + std::to_string(channel.id) +
               ": check rate limit reached; answering try-later");
  } else {
    SystemCheckResult result =
        checker_.check_credentials(req->user, req->password.view(), req->address);
    req->password.wipe();
    answer.check = result.check;
    if (result.check == AccountCheck::kOk) {
      answer.user = result.user;
      channel.checked = std::move(result.user);
      channel.permits |= kPermitOpen;
    } else if (result.check != AccountCheck::kUnknownUser &&
               result.check != AccountCheck::kBadPassword) {
      log_info("privsep: user=" + log_escape(req->user) + " rip=" + req->address +
               " refused: " + account_check_name(result.check));
    }
  }
  MessageBuilder b(MsgType::kCheckAnswer);
  encode_check_answer(b, answer);
  if (Status s = send_message(channel.fd.get(), b.view()); !s) {
    refuse(channel, "cannot answer: " + s.error().message);
    return false;
  }
  return true;
}

bool Helper::helper_open_maildrop(Channel& channel, MessageReader& request) {
  if (Status s = request.finish(); !s) {
    refuse(channel, "open-maildrop: " + s.error().message);
    return false;
  }
  if (!channel.checked) {  // cannot happen while the permit bits hold
    refuse(channel, "open-maildrop without a checked user");
    return false;
  }
  const UserRecord user = std::move(*channel.checked);
  channel.checked.reset();
  Result<UniqueFd> agent = spawn_mail_agent(user, options_.log_target, options_.log_level);
  MessageBuilder b(MsgType::kOpenAnswer);
  if (!agent) {
    log_error("privsep: cannot start a mail agent for " + log_escape(user.name) + ": " +
              agent.error().message);
    b.u8(0).str(agent.error().message.substr(0, kMaxReasonLength));
    return static_cast<bool>(send_message(channel.fd.get(), b.view()));
  }
  b.u8(1).str("");
  if (Status s = send_message(channel.fd.get(), b.view(), agent->get()); !s) {
    refuse(channel, "cannot answer: " + s.error().message);
    return false;
  }
  return true;
}

void Helper::reap_agents() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM) {
      log_warning("privsep: mail agent " + std::to_string(pid) + " was killed by signal " +
                  std::to_string(WTERMSIG(status)));
    }
  }
}

int Helper::run(UniqueFd control) {
  Logger::instance().set_role("privsep");
  SignalFlags& flags = signal_flags();
  const sigset_t mask = wait_mask();
  std::vector<pollfd> fds;
  for (;;) {
    reap_agents();
    if (flags.terminate) return kHelperExitOk;
    // SIGHUP and SIGQUIT are the master's business: the helper keeps
    // serving until the master (and so the control socket) is gone.
    flags.reload = 0;
    flags.graceful = 0;
    flags.child_exited = 0;
    flags.alarm = 0;
    fds.clear();
    fds.push_back(pollfd{control.get(), POLLIN, 0});
    for (const Channel& c : channels_) fds.push_back(pollfd{c.fd.get(), POLLIN, 0});
    const int n = ::ppoll(fds.data(), fds.size(), nullptr, &mask);
    if (n < 0) {
      if (errno == EINTR) continue;
      log_error("privsep: ppoll failed: " + Error::from_errno("ppoll").message);
      return kHelperExitError;
    }
    // Channels first: fds[i + 1] belongs to channels_[i] as it was when
    // the poll set was made; channels accepted below come after them.
    std::vector<bool> keep(channels_.size(), true);
    for (size_t i = 0; i < channels_.size(); ++i) {
      const short ev = fds[i + 1].revents;
      if (ev == 0) continue;
      if ((ev & POLLIN) != 0) {
        keep[i] = serve(channels_[i]);
      } else {
        keep[i] = false;  // hung up or error, nothing to read
      }
    }
    size_t w = 0;
    for (size_t i = 0; i < channels_.size(); ++i) {
      if (keep[i]) {
        if (w != i) channels_[w] = std::move(channels_[i]);
        ++w;
      }
    }
    channels_.erase(channels_.begin() + static_cast<std::ptrdiff_t>(w), channels_.end());
    const short cev = fds[0].revents;
    if ((cev & POLLIN) != 0) {
      // A message, or EOF: one peek tells which.
      char byte;
      const ssize_t peeked = ::recv(control.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (peeked == 0) {
        log_info("privsep: the master is gone; stopping");
        return kHelperExitOk;
      }
      helper_accept_channel(control.get());
    } else if ((cev & (POLLHUP | POLLERR)) != 0) {
      log_info("privsep: the master is gone; stopping");
      return kHelperExitOk;
    }
  }
}

Status master_hand_channel(int control, const UniqueFd& helper_end) {
  MessageBuilder b(MsgType::kNewChannel);
  return send_message(control, b.view(), helper_end.get());
}

Result<HelperProcess> start_privsep_helper(const Settings& settings,
                                           const std::string& log_target) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    return Error::from_errno("privsep: socketpair");
  }
  UniqueFd master_end(sv[0]);
  UniqueFd helper_end(sv[1]);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno("privsep: fork");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(kHelperExitOk);
    // Nothing the master had open is the helper's business: listeners,
    // shared tables, the pid file. Keep stdio and the control socket.
    const int keep = helper_end.get();
    if (keep > 3) ::close_range(3, static_cast<unsigned>(keep - 1), 0);
    ::close_range(static_cast<unsigned>(keep + 1), ~0u, 0);
    (void)master_end.release();  // closed with the range above
    ::closelog();                // its socket went with the range above
    (void)Logger::instance().configure(log_target, settings.log.level);
    HelperOptions options;
    options.mail_location = settings.auth.mail_location;
    options.first_valid_uid = static_cast<uid_t>(settings.auth.first_valid_uid);
    options.log_target = log_target;
    options.log_level = settings.log.level;
    NssAccountSource source;
    std::unique_ptr<CredentialChecker> checker;
    if (settings.auth.backend == "pam") {
      checker = std::make_unique<PamUsers>(source, settings.auth.pam_service, options.mail_location,
                                           options.first_valid_uid);
    } else {
      checker =
          std::make_unique<SystemUsers>(source, options.mail_location, options.first_valid_uid);
    }
    Helper helper(*checker, options);
    log_info("privsep: helper started (auth.backend " + settings.auth.backend + ")");
    exit_forked_child(helper.run(std::move(helper_end)));
  }
  return HelperProcess{pid, std::move(master_end)};
}

}  // namespace pop3d
