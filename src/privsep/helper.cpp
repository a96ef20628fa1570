#include "privsep/helper.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <memory>

#include "daemon/signals.hpp"
#include "log/logger.hpp"
#include "privsep/agent.hpp"
#include "security/ip_list.hpp"
#include "util/child_exit.hpp"
#include "util/child_process.hpp"
#include "util/proc_title.hpp"

namespace pop3d {

namespace {

// Exit codes of the helper process and of its check processes.
constexpr int kHelperExitOk = 0;
constexpr int kHelperExitError = 1;
constexpr int kCheckExitProtocol = 4;

bool would_block(const Error& e) {
  return e.sys_errno == EAGAIN || e.sys_errno == EWOULDBLOCK;
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// The address of the client on the other end of `fd`, read by the helper
// itself so that no worker can name another: only a connected TCP socket
// (over IPv4 or IPv6) counts.
//
// A TCP socket whose connection is already gone (the client reset it
// before the helper looked, as port probes do) has no peer any more: that
// is the client's doing, not the worker's, and gives an empty address.
// The longest text form of an address (IPv6 with an IPv4 tail).
constexpr size_t kMaxClientAddressLength = INET6_ADDRSTRLEN;

Result<std::string> client_address_of(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
    return Error{"session-start: the descriptor is not a socket"};
  }
  if (type != SOCK_STREAM) return Error{"session-start: the socket is not a stream socket"};
  sockaddr_storage ss{};
  len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0 ||
      (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
    return Error{"session-start: the socket is not an IPv4 or IPv6 socket"};
  }
  int protocol = 0;
  len = sizeof protocol;
  if (::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) < 0 || protocol != IPPROTO_TCP) {
    return Error{"session-start: the socket is not a TCP socket"};
  }
  ss = sockaddr_storage{};
  len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    if (errno == ENOTCONN) return std::string();
    return Error::from_errno("session-start: getpeername");
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
  } else {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    // An IPv4 client of a dual-stack listener shows as it does in the
    // worker's own log lines (the net/ code unmaps such addresses too).
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      ::inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], text, sizeof text);
    } else {
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    }
  }
  return std::string(text);
}

// A check process: answers check jobs from the helper, one at a time,
// with the checker it was forked with, until the helper closes its end.
[[noreturn]] void serve_check_process(UniqueFd sock, CredentialChecker& checker,
                                      const HelperOptions& options) {
  reset_signal_handlers();
  // Reloads and graceful stops are the master's; a check process ends with
  // the helper (EOF, or the parent-death signal).
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGQUIT, SIG_IGN);
  if (!options.log_target.empty()) {
    ::closelog();
    (void)Logger::instance().configure(options.log_target, options.log_level);
  }
  Logger::instance().set_role("privsep-check");
  set_proc_title("helper [check]");
  // Root like the helper (shadow and pam_unix need it): a name of its own
  // tells it apart in ps and /proc/PID/comm.
  ::prctl(PR_SET_NAME, "pop3d-check", 0, 0, 0);
  for (;;) {
    Result<ReceivedMessage> got = receive_message(sock.get(), kMaxRequestSize);
    if (!got) {
      if (got.error().message == "eof") exit_forked_child(kHelperExitOk);
      log_error("privsep: check process: " + got.error().message);
      exit_forked_child(kCheckExitProtocol);
    }
    Result<MessageReader> r = MessageReader::parse(got->bytes, kMaxRequestSize);
    if (!r || r->type() != MsgType::kCheckJob || got->fd) {
      log_error("privsep: check process: malformed job");
      exit_forked_child(kCheckExitProtocol);
    }
    Result<CheckRequest> job = decode_check_job(*r);
    if (!job) {
      log_error("privsep: check process: " + job.error().message);
      exit_forked_child(kCheckExitProtocol);
    }
    SystemCheckResult result =
        checker.check_credentials(job->user, job->password.view(), job->address);
    job->password.wipe();
    CheckAnswer answer;
    answer.check = result.check;
    if (result.check == AccountCheck::kOk) answer.user = std::move(result.user);
    MessageBuilder b(MsgType::kCheckAnswer);
    encode_check_answer(b, answer);
    if (Status s = send_message(sock.get(), b.view()); !s) {
      log_error("privsep: check process: cannot answer: " + s.error().message);
      exit_forked_child(kCheckExitProtocol);
    }
  }
}

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
    {MsgType::kSessionStart, kPermitSession, false, true, &Helper::helper_start_session},
    {MsgType::kCheckCredentials, kPermitCheck, false, false, &Helper::helper_check_credentials},
    {MsgType::kOpenMaildrop, kPermitOpen, true, false, &Helper::helper_open_maildrop},
};

Helper::Helper(CredentialChecker& checker, HelperOptions options)
    : checker_(checker), options_(std::move(options)) {}

void Helper::refuse(Channel& channel, const std::string& why) {
  if (channel.closing) return;  // logged once
  channel.closing = true;
  log_warning("privsep: channel " + std::to_string(channel.id) + ": " + log_escape(why, 300) +
              "; closing the channel");
}

Helper::Channel* Helper::channel_by_id(unsigned id) {
  auto it = channels_.find(id);
  if (it == channels_.end() || it->second.closing) return nullptr;
  return &it->second;
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
  set_nonblocking(got->fd.get());
  const unsigned id = next_id_++;
  channels_.emplace(
      id, Channel{std::move(got->fd),
                  id,
                  kPermitSession,
                  std::nullopt,
                  TokenBucket(options_.checks_per_second, options_.check_burst, Clock::now()),
                  "",
                  false,
                  false,
                  {},
                  Clock::time_point{}});
}

void Helper::serve(Channel& channel) {
  Result<ReceivedMessage> got = receive_message(channel.fd.get(), kMaxRequestSize);
  if (!got) {
    if (would_block(got.error())) return;
    if (got.error().message == "eof") {
      channel.closing = true;  // the worker is gone
      return;
    }
    refuse(channel, got.error().message);
    return;
  }
  Result<MessageReader> r = MessageReader::parse(got->bytes, kMaxRequestSize);
  if (!r) {
    refuse(channel, r.error().message);
    return;
  }
  if (channel.check_in_flight) {
    // A worker waits for each answer; one that asks on is not a worker.
    refuse(channel, std::string(msg_type_name(r->type())) + " while a check is in flight");
    return;
  }
  const Dispatch* found = nullptr;
  for (const Dispatch& d : kDispatch) {
    if (d.type == r->type()) found = &d;
  }
  if (got->fd && (found == nullptr || !found->takes_fd)) {
    refuse(channel, "a descriptor came with a request");
    return;
  }
  if (found == nullptr) {
    refuse(channel, std::string(msg_type_name(r->type())) + " is not a request to the helper");
    return;
  }
  if ((channel.permits & found->needs) == 0) {
    refuse(channel, std::string(msg_type_name(found->type)) + " is not permitted now");
    return;
  }
  if (found->takes_fd && !got->fd) {
    refuse(channel, std::string(msg_type_name(found->type)) + " without a descriptor");
    return;
  }
  if (found->once) channel.permits &= ~found->needs;
  (this->*found->handler)(channel, *got, *r);
}

void Helper::helper_start_session(Channel& channel, ReceivedMessage& got, MessageReader& request) {
  const std::string proxied(request.str(kMaxClientAddressLength, "proxied client"));
  if (Status s = request.finish(); !s) {
    refuse(channel, "session-start: " + s.error().message);
    return;
  }
  // The address is read here, from the socket, and not taken from the
  // worker. Behind a PROXY protocol header the socket's peer is the proxy
  // and only the worker has read the header (nothing root reads network
  // bytes): its word is taken then, and only for a socket whose peer is a
  // trusted proxy. A subverted worker can thus name another client only
  // for connections that came through the proxy.
  Result<std::string> peer = client_address_of(got.fd.get());
  got.fd.reset();  // the helper keeps no client connection open
  // A new session: nothing of the last one opens a maildrop any more.
  channel.permits &= ~(kPermitOpen | kPermitCheck);
  channel.checked.reset();
  channel.peer.clear();
  if (!peer) {
    refuse(channel, peer.error().message);
    return;
  }
  if (!proxied.empty()) {
    if (!options_.proxy_protocol || !options_.proxy_trusted.contains(*peer)) {
      refuse(channel, "session-start: a proxied client address for a connection from " +
                          (peer->empty() ? std::string("nowhere") : *peer) +
                          ", which is no trusted proxy");
      return;
    }
    if (!parse_ip_key(proxied).ok()) {
      refuse(channel, "session-start: the proxied client address is not an IP address");
      return;
    }
    channel.peer = proxied;
  } else {
    channel.peer = std::move(*peer);
  }
  channel.permits |= kPermitCheck;
}

void Helper::helper_check_credentials(Channel& channel, ReceivedMessage&, MessageReader& request) {
  Result<CheckRequest> req = decode_check_request(request);
  if (!req) {
    refuse(channel, "check-credentials: " + req.error().message);
    return;
  }
  // Whatever happens now, no earlier check opens a maildrop any more.
  channel.permits &= ~kPermitOpen;
  channel.checked.reset();
  CheckJob job{channel.id, std::move(req->user), std::move(req->password), channel.peer};
  const std::string who = "user=" + log_escape(job.user) + " rip=" + job.address;
  if (job.address.empty()) {
    // No address to give PAM (pam_access would read "none" as local):
    // the client is gone anyway.
    log_info("privsep: " + who +
             ": the client's connection was gone at session start; not checked");
    job.password.wipe();
    answer_check(channel, job, CheckAnswer{});  // kTempFail
    return;
  }
  if (!channel.bucket.take(Clock::now())) {
    log_notice("privsep: channel " + std::to_string(channel.id) + ": " + who +
               ": check rate limit reached; answering try-later");
    job.password.wipe();
    CheckAnswer later;
    later.check = AccountCheck::kTryLater;
    answer_check(channel, job, std::move(later));
    return;
  }
  if (queued_.size() >= kMaxQueuedChecks) {
    log_warning("privsep: " + std::to_string(kMaxQueuedChecks) + " checks waiting; " + who +
                ": answering try-later");
    job.password.wipe();
    CheckAnswer later;
    later.check = AccountCheck::kTryLater;
    answer_check(channel, job, std::move(later));
    return;
  }
  channel.check_in_flight = true;
  queued_.push_back(std::move(job));
  dispatch_checks();
}

void Helper::answer_check(Channel& channel, const CheckJob& job, CheckAnswer result) {
  channel.check_in_flight = false;
  const std::string who = "user=" + log_escape(job.user) + " rip=" + job.address;
  if (result.check == AccountCheck::kOk) {
    channel.checked = result.user;
    channel.permits |= kPermitOpen;
  } else if (result.check == AccountCheck::kUnknownUser ||
             result.check == AccountCheck::kBadPassword) {
    // One text for both: the log tells an address guessing at passwords,
    // not which of the names it tried exist.
    log_notice("privsep: check failed: " + who);
  } else if (result.check != AccountCheck::kTryLater) {
    log_notice("privsep: check failed: " + who + " refused: " + account_check_name(result.check));
  }
  MessageBuilder b(MsgType::kCheckAnswer);
  encode_check_answer(b, result);
  answer(channel, b);
}

void Helper::helper_open_maildrop(Channel& channel, ReceivedMessage&, MessageReader& request) {
  if (Status s = request.finish(); !s) {
    refuse(channel, "open-maildrop: " + s.error().message);
    return;
  }
  if (!channel.checked) {  // cannot happen while the permit bits hold
    refuse(channel, "open-maildrop without a checked user");
    return;
  }
  const UserRecord user = std::move(*channel.checked);
  channel.checked.reset();
  // The agent runs as the user: it must not carry, in the memory it
  // inherits, the passwords of other users' checks still waiting.
  Result<UniqueFd> agent = spawn_mail_agent(
      user,
      AgentOptions{options_.log_target, options_.log_level, options_.agent_idle_timeout,
                   options_.uidl, options_.shared_storage, options_.verbose_proctitle},
      [this] { forget_queued_passwords(); });
  MessageBuilder b(MsgType::kOpenAnswer);
  if (!agent) {
    log_error("privsep: cannot start a mail agent for " + log_escape(user.name) + ": " +
              agent.error().message);
    b.u8(0).str(agent.error().message.substr(0, kMaxReasonLength));
    answer(channel, b);
    return;
  }
  b.u8(1).str("");
  answer(channel, b, std::move(*agent));
}

void Helper::forget_queued_passwords() {
  for (CheckJob& job : queued_) job.password.wipe();
}

void Helper::answer(Channel& channel, MessageBuilder& b, UniqueFd fd) {
  if (channel.closing) return;
  if (channel.out.empty()) {
    Status s = send_message(channel.fd.get(), b.view(), fd.get());
    if (s) return;
    if (!would_block(s.error())) {
      refuse(channel, "cannot answer: " + s.error().message);
      return;
    }
    channel.out_since = Clock::now();
  }
  if (channel.out.size() >= kMaxQueuedAnswers) {
    refuse(channel, "the worker does not read its answers (" + std::to_string(kMaxQueuedAnswers) +
                        " queued)");
    return;
  }
  channel.out.push_back(QueuedAnswer{std::string(b.view()), std::move(fd)});
}

void Helper::flush(Channel& channel) {
  while (!channel.out.empty() && !channel.closing) {
    QueuedAnswer& next = channel.out.front();
    Status s = send_message(channel.fd.get(), next.bytes, next.fd.get());
    if (!s) {
      if (!would_block(s.error())) refuse(channel, "cannot answer: " + s.error().message);
      return;
    }
    channel.out.pop_front();
    channel.out_since = Clock::now();  // it drains: the limit counts from here
  }
}

// ---------------------------------------------------------------- check pool

// Why processes forked once at start, and not threads or a child per
// check: PAM modules and NSS sources are not all thread-safe (pam_unix and
// many NSS back-ends keep static state), so threads are out; a child per
// check would fork the helper, with every worker's channel in it, for each
// login, and would lose what a checker learns between checks (SystemUsers
// follows the cost class of the real hashes for its dummy). A fixed pool
// has neither problem, and a process stuck in PAM is killed and replaced.
void Helper::start_check_processes() {
  while (pool_.size() < std::max<size_t>(1, options_.check_processes)) {
    Result<ChildChannel> child = fork_child_with_channel();
    if (!child) {
      log_error("privsep: cannot start a check process: " + child.error().message);
      return;
    }
    if (child->pid == 0) {
      // Nothing of the helper's state but the checker: the channels went
      // with the descriptors fork_child_with_channel closed, and the
      // passwords of checks still waiting are not this process's.
      forget_queued_passwords();
      serve_check_process(std::move(child->end), checker_, options_);
    }
    set_nonblocking(child->end.get());
    pool_.push_back(CheckProcess{child->pid, std::move(child->end), std::nullopt, {}});
  }
}

void Helper::dispatch_checks() {
  if (pool_.size() < std::max<size_t>(1, options_.check_processes)) start_check_processes();
  if (pool_.empty()) {
    // No process to run them: an honest "temporary failure" now rather
    // than the worker's time-out later.
    while (!queued_.empty()) {
      CheckJob job = std::move(queued_.front());
      queued_.pop_front();
      job.password.wipe();
      if (Channel* c = channel_by_id(job.channel)) answer_check(*c, job, CheckAnswer{});
    }
    return;
  }
  for (CheckProcess& p : pool_) {
    if (p.job || !p.fd) continue;
    // Jobs whose worker has gone are dropped here, and the process goes to
    // the next one: skipping the process instead left a live job waiting
    // behind dead ones with a free process and nothing left to wake the
    // helper (found by the hostile test under CI's load).
    std::optional<CheckJob> next;
    while (!next && !queued_.empty()) {
      CheckJob job = std::move(queued_.front());
      queued_.pop_front();
      if (channel_by_id(job.channel) != nullptr) {
        next = std::move(job);
      } else {
        job.password.wipe();
      }
    }
    if (!next) return;
    CheckJob job = std::move(*next);
    MessageBuilder b(MsgType::kCheckJob);
    encode_check_job(b, job.user, job.password.view(), job.address);
    job.password.wipe();
    const Status s = send_message(p.fd.get(), b.view());
    p.job = std::move(job);
    p.started = Clock::now();
    if (!s) fail_check(p, "cannot send a job: " + s.error().message);
  }
}

void Helper::fail_check(CheckProcess& process, const std::string& why) {
  log_error("privsep: check process " + std::to_string(process.pid) + ": " + why +
            "; replacing it");
  ::kill(process.pid, SIGKILL);
  if (process.job) {
    if (Channel* c = channel_by_id(process.job->channel)) {
      answer_check(*c, *process.job, CheckAnswer{});  // kTempFail
    }
  }
  process.job.reset();
  process.fd.reset();  // removed from the pool by run()
}

void Helper::finish_check(CheckProcess& process) {
  Result<ReceivedMessage> got = receive_message(process.fd.get(), kMaxAgentMessageSize);
  if (!got) {
    if (would_block(got.error())) return;
    fail_check(process, got.error().message == "eof" ? "exited" : got.error().message);
    return;
  }
  Result<MessageReader> r = MessageReader::parse(got->bytes, kMaxAgentMessageSize);
  if (!r || r->type() != MsgType::kCheckAnswer || got->fd || !process.job) {
    fail_check(process, "answered out of turn");
    return;
  }
  Result<CheckAnswer> result = decode_check_answer(*r);
  if (!result) {
    fail_check(process, "bad answer: " + result.error().message);
    return;
  }
  CheckJob job = std::move(*process.job);
  process.job.reset();
  if (Channel* c = channel_by_id(job.channel)) answer_check(*c, job, std::move(*result));
}

void Helper::expire_checks(Clock::time_point now) {
  for (CheckProcess& p : pool_) {
    if (p.job && p.fd && now - p.started >= options_.check_deadline) {
      fail_check(p, "check of user=" + log_escape(p.job->user) + " took longer than " +
                        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                           options_.check_deadline)
                                           .count()) +
                        " s");
    }
  }
  for (auto& [id, c] : channels_) {
    if (!c.out.empty() && now - c.out_since >= kChannelDrainTimeout) {
      refuse(c, "the worker has not taken its answers for " +
                    std::to_string(kChannelDrainTimeout.count()) + " s");
    }
  }
}

std::optional<Helper::Clock::duration> Helper::next_timeout(Clock::time_point now) const {
  std::optional<Clock::time_point> at;
  auto earliest = [&](Clock::time_point t) {
    if (!at || t < *at) at = t;
  };
  for (const CheckProcess& p : pool_) {
    if (p.job) earliest(p.started + options_.check_deadline);
  }
  for (const auto& [id, c] : channels_) {
    if (!c.out.empty()) earliest(c.out_since + kChannelDrainTimeout);
  }
  if (!at) return std::nullopt;
  return std::max(Clock::duration::zero(), *at - now);
}

void Helper::reap_children() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM && WTERMSIG(status) != SIGKILL) {
      log_warning("privsep: child " + std::to_string(pid) + " was killed by signal " +
                  std::to_string(WTERMSIG(status)));
    }
  }
}

int Helper::run(UniqueFd control) {
  Logger::instance().set_role("privsep");
  set_proc_title("helper");
  start_check_processes();
  SignalFlags& flags = signal_flags();
  const sigset_t mask = wait_mask();
  std::vector<pollfd> fds;
  std::vector<unsigned> ids;  // fds[1 + i] is channel ids[i]
  for (;;) {
    reap_children();
    if (flags.terminate) return kHelperExitOk;
    // SIGHUP and SIGQUIT are the master's business: the helper keeps
    // serving until the master (and so the control socket) is gone.
    flags.reload = 0;
    flags.graceful = 0;
    flags.child_exited = 0;
    flags.alarm = 0;
    if (flags.reopen) {
      // From root (the master cannot signal us, see start_privsep_helper):
      // the check processes write the file too. Mail agents ignore it (see
      // spawn_mail_agent); new ones and new check processes open the path
      // afresh anyway.
      flags.reopen = 0;
      Logger::instance().reopen_if_requested();
      for (const CheckProcess& p : pool_) {
        if (p.pid > 0) ::kill(p.pid, kReopenLogSignal);
      }
    }
    fds.clear();
    ids.clear();
    fds.push_back(pollfd{control.get(), POLLIN, 0});
    for (const auto& [id, c] : channels_) {
      ids.push_back(id);
      fds.push_back(
          pollfd{c.fd.get(), static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
    }
    const size_t first_process = fds.size();
    for (const CheckProcess& p : pool_) fds.push_back(pollfd{p.fd.get(), POLLIN, 0});
    const std::optional<Clock::duration> wait = next_timeout(Clock::now());
    timespec ts{};
    if (wait) {
      // Rounded up, so that a deadline is never polled for in a busy loop.
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*wait).count() + 999'999;
      ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    }
    const int n = ::ppoll(fds.data(), fds.size(), wait ? &ts : nullptr, &mask);
    if (n < 0) {
      if (errno == EINTR) continue;
      log_error("privsep: ppoll failed: " + Error::from_errno("ppoll").message);
      return kHelperExitError;
    }
    // Answers of the check processes first, so that their channels can be
    // answered in this round.
    for (size_t i = 0; i < pool_.size() && first_process + i < fds.size(); ++i) {
      const short ev = fds[first_process + i].revents;
      if (ev != 0 && pool_[i].fd) finish_check(pool_[i]);
    }
    // One request per channel per round: a worker that floods its channel
    // gets no more of the helper's time than one that asks once.
    for (size_t i = 0; i < ids.size(); ++i) {
      const short ev = fds[i + 1].revents;
      auto it = channels_.find(ids[i]);
      if (ev == 0 || it == channels_.end() || it->second.closing) continue;
      Channel& c = it->second;
      if ((ev & POLLOUT) != 0) flush(c);
      if ((ev & POLLIN) != 0) {
        serve(c);
      } else if ((ev & (POLLHUP | POLLERR)) != 0) {
        c.closing = true;  // hung up or error, nothing to read
      }
    }
    expire_checks(Clock::now());
    std::erase_if(channels_, [](const auto& entry) { return entry.second.closing; });
    std::erase_if(pool_, [](const CheckProcess& p) { return !p.fd; });
    dispatch_checks();
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
  Result<ChildChannel> child = fork_child_with_channel();
  if (!child) return Error{"privsep: " + child.error().message};
  if (child->pid != 0) return HelperProcess{child->pid, std::move(child->end)};
  // Nothing the master had open is the helper's business (listeners,
  // shared tables, the pid file): only stdio and the control socket are
  // left, and the log is reopened.
  ::closelog();
  (void)Logger::instance().configure(log_target, settings.log.level);
  // The master runs as the service user once it has dropped privileges and
  // cannot pass SIGUSR1 on to this root process: the helper (and its check
  // processes, which inherit this) see a rotated log file for themselves.
  Logger::instance().set_follow_renames(true);
  HelperOptions options;
  options.mail_location = settings.auth.mail_location;
  options.first_valid_uid = static_cast<uid_t>(settings.auth.first_valid_uid);
  options.log_target = log_target;
  options.log_level = settings.log.level;
  options.agent_idle_timeout = settings.pop3.idle_timeout;
  options.verbose_proctitle = settings.general.verbose_proctitle;
  options.proxy_protocol = settings.pop3.proxy_protocol;
  // Checked when the settings were loaded (build_service).
  if (auto trusted = IpList::parse(settings.pop3.proxy_trusted_networks)) {
    options.proxy_trusted = std::move(*trusted);
  }
  // Checked when the settings were loaded; "auto" if it could still fail.
  if (auto uidl = UidlChoice::parse(settings.pop3.uidl_format)) options.uidl = std::move(*uidl);
  if (auto shared = parse_shared_storage(settings.mailstore.shared_storage)) {
    options.shared_storage = *shared;
  }
  NssAccountSource source;
  std::unique_ptr<CredentialChecker> checker;
  if (settings.auth.backend == "pam") {
    checker = std::make_unique<PamUsers>(source, settings.auth.pam_service, options.mail_location,
                                         options.first_valid_uid);
  } else {
    checker = std::make_unique<SystemUsers>(source, options.mail_location, options.first_valid_uid);
  }
  Helper helper(*checker, options);
  log_info("privsep: helper started (auth.backend " + settings.auth.backend + ")");
  exit_forked_child(helper.run(std::move(child->end)));
}

}  // namespace pop3d
