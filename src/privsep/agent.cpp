#include "privsep/agent.hpp"

#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>

#include "daemon/privileges.hpp"
#include "daemon/signals.hpp"
#include "log/logger.hpp"
#include "mailstore/maildir_store.hpp"
#include "privsep/protocol.hpp"
#include "util/child_exit.hpp"
#include "util/child_process.hpp"
#include "util/proc_title.hpp"

namespace pop3d {

namespace {

constexpr int kAgentExitOk = 0;
constexpr int kAgentExitSetupFailed = 3;
constexpr int kAgentExitProtocol = 4;
constexpr int kAgentExitIdle = 5;
// An agent holds its socket, the log, the maildir's directories and lock,
// and one message at a time on its way to the worker.
constexpr rlim_t kAgentMaxFiles = 64;

// agent_send_listing / client_receive_listing: the open result, then the
// listing in chunks.
Status agent_send_listing(int sock, const OpenOutcome& opened) {
  AgentOpened head;
  head.status = opened.status;
  head.reason = opened.reason;
  const size_t count = opened.maildrop ? opened.maildrop->count() : 0;
  head.count = static_cast<uint32_t>(std::min<size_t>(count, kMaxListedMessages));
  {
    MessageBuilder b(MsgType::kAgentOpened);
    encode_agent_opened(b, head);
    if (Status s = send_message(sock, b.view()); !s) return s;
  }
  std::vector<MessageInfo> chunk;
  for (size_t first = 0; first < head.count; first += kListEntriesPerChunk) {
    const size_t n = std::min<size_t>(kListEntriesPerChunk, head.count - first);
    chunk.clear();
    for (size_t i = first; i < first + n; ++i) chunk.push_back(opened.maildrop->info(i));
    MessageBuilder b(MsgType::kAgentListChunk);
    encode_list_chunk(b, chunk, 0, n);
    if (Status s = send_message(sock, b.view()); !s) return s;
  }
  return {};
}

// agent_open_message / client_open_message.
Status agent_open_message(int sock, Maildrop& drop, MessageReader& r) {
  const uint32_t index = r.u32();
  if (Status s = r.finish(); !s) return s;
  MessageBuilder b(MsgType::kMessageAnswer);
  if (index >= drop.count()) {
    b.u8(0).str("no such message");
    return send_message(sock, b.view());
  }
  Result<UniqueFd> fd = drop.open_message(index);
  if (!fd) {
    b.u8(0).str(fd.error().message.substr(0, kMaxReasonLength));
    return send_message(sock, b.view());
  }
  b.u8(1).str("");
  return send_message(sock, b.view(), fd->get());
}

// agent_correct_size / AgentMaildrop::correct_size: no answer, as the
// session goes on whatever the agent makes of it.
Status agent_correct_size(Maildrop& drop, MessageReader& r) {
  Result<SizeCorrection> c = decode_correct_size(r);
  if (!c) return c.error();
  if (c->index >= drop.count()) return Error{"correct-size of no such message"};
  drop.correct_size(c->index, c->measured);
  return {};
}

// Waits for the worker's next request: false after `idle_timeout` of
// silence.
bool wait_for_request(int sock, std::chrono::seconds idle_timeout) {
  pollfd p{sock, POLLIN, 0};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(idle_timeout).count();
  const auto deadline = std::chrono::steady_clock::now() + idle_timeout;
  for (;;) {
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(ms, 1 << 30)));
    if (n > 0) return true;  // a request, EOF or an error: recvmsg tells
    if (n < 0 && errno != EINTR) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

// agent_retrieved_chunk / client_commit: one more stretch of the retrieved
// flags, which must continue where the last one ended and stay within the
// maildrop. Anything else is a worker out of step (or subverted): the
// agent ends, and with it the session's commit.
Status agent_retrieved_chunk(const Maildrop& drop, MessageReader& r, std::vector<bool>& retrieved) {
  Result<RetrievedChunk> chunk = decode_retrieved_chunk(r);
  if (!chunk) return chunk.error();
  if (chunk->first != retrieved.size() ||
      chunk->retrieved.size() > drop.count() - retrieved.size()) {
    return Error{"retrieved flags " + std::to_string(chunk->first) + ".." +
                 std::to_string(chunk->first + chunk->retrieved.size()) + " do not follow " +
                 std::to_string(retrieved.size()) + " of " + std::to_string(drop.count())};
  }
  retrieved.insert(retrieved.end(), chunk->retrieved.begin(), chunk->retrieved.end());
  return {};
}

// agent_commit / client_commit.
Status agent_commit(int sock, Maildrop& drop, MessageReader& r,
                    const std::vector<bool>& retrieved) {
  Result<std::vector<bool>> deleted = decode_commit(r);
  if (!deleted) return deleted.error();
  // Half a set of retrieved flags would flag the wrong messages seen.
  if (!retrieved.empty() && retrieved.size() != drop.count()) {
    return Error{"commit after retrieved flags for " + std::to_string(retrieved.size()) + " of " +
                 std::to_string(drop.count()) + " messages"};
  }
  CommitAnswer answer;
  if (deleted->size() != drop.count()) {
    answer.reason = "commit flags do not match the maildrop";
  } else {
    Result<CommitStats> stats = drop.commit(*deleted, retrieved);
    answer.ok = stats.ok();
    if (stats) {
      answer.stats = *stats;
    } else {
      answer.reason = stats.error().message;
    }
  }
  MessageBuilder b(MsgType::kCommitAnswer);
  encode_commit_answer(b, answer);
  return send_message(sock, b.view());
}

}  // namespace

Status become_user(const UserRecord& user) {
  if (user.uid == 0) return Error{"refusing to run a mail agent as root"};
  if (::chdir("/") < 0) return Error::from_errno("chdir /");
  if (::setgroups(1, &user.gid) < 0) return Error::from_errno("setgroups");
  if (::setgid(user.gid) < 0) return Error::from_errno("setgid");
  if (::setuid(user.uid) < 0) return Error::from_errno("setuid");
  if (::setuid(0) == 0 || ::geteuid() == 0 || ::getuid() != user.uid || ::getgid() != user.gid) {
    return Error{"root could be regained after setuid; refusing to go on"};
  }
  if (Status s = confine_process(); !s) return s;
  const rlimit files{kAgentMaxFiles, kAgentMaxFiles};
  if (::setrlimit(RLIMIT_NOFILE, &files) < 0) return Error::from_errno("setrlimit nofile");
  // A change of uid clears the parent-death signal: set it again, so an
  // agent never outlives the helper.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  return {};
}

int serve_mail_agent(int sock, MailStore& store, const UserRecord& user,
                     std::chrono::seconds idle_timeout) {
  // A worker that stops taking answers must not keep the agent, and with
  // it the maildrop's lock, any longer than one that stops asking.
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(idle_timeout.count());
  ::setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  OpenOutcome opened = store.open(user);
  if (Status s = agent_send_listing(sock, opened); !s) {
    log_warning("agent: cannot send the listing: " + s.error().message);
    return kAgentExitProtocol;
  }
  if (opened.status != OpenStatus::kOk || !opened.maildrop) return kAgentExitOk;
  Maildrop& drop = *opened.maildrop;
  std::vector<bool> retrieved;  // filled by kRetrievedChunk, used at kCommit
  for (;;) {
    if (!wait_for_request(sock, idle_timeout)) {
      log_notice("agent: user=" + log_escape(user.name) + ": no request for " +
                 std::to_string(idle_timeout.count()) + " s; releasing the maildrop");
      return kAgentExitIdle;
    }
    Result<ReceivedMessage> got = receive_message(sock, kMaxAgentMessageSize);
    if (!got) {
      if (got.error().message == "eof") return kAgentExitOk;  // session over
      log_warning("agent: " + got.error().message);
      return kAgentExitProtocol;
    }
    Result<MessageReader> r = MessageReader::parse(got->bytes, kMaxAgentMessageSize);
    if (!r || got->fd) {
      log_warning("agent: malformed request: " + (r ? "descriptor attached" : r.error().message));
      return kAgentExitProtocol;
    }
    Status s;
    switch (r->type()) {
      case MsgType::kOpenMessage:
        s = agent_open_message(sock, drop, *r);
        break;
      case MsgType::kCorrectSize:
        s = agent_correct_size(drop, *r);
        break;
      case MsgType::kRetrievedChunk:
        s = agent_retrieved_chunk(drop, *r, retrieved);
        break;
      case MsgType::kCommit:
        s = agent_commit(sock, drop, *r, retrieved);
        if (s) return kAgentExitOk;  // once, at QUIT
        break;
      default:
        s = Error{std::string(msg_type_name(r->type())) + " is not a request to an agent"};
    }
    if (!s) {
      log_warning("agent: user=" + log_escape(user.name) + ": " + s.error().message);
      return kAgentExitProtocol;
    }
  }
}

Result<UniqueFd> spawn_mail_agent(const UserRecord& user, const AgentOptions& options,
                                  const std::function<void()>& forget) {
  if (user.uid == 0) return Error{"refusing to start a mail agent as root"};
  // The other workers' channels and the control socket stay with the
  // helper; an agent has its socket and stdio only.
  Result<ChildChannel> child = fork_child_with_channel();
  if (!child) return child.error();
  if (child->pid != 0) return std::move(child->end);
  if (forget) forget();
  reset_signal_handlers();
  // Reloads and graceful stops are the master's; the agent ends with its
  // session (EOF, or silence) or with the helper.
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGQUIT, SIG_IGN);
  // Run as the mailbox's owner, an agent could not open the log file again
  // (it is the service user's): it keeps the file it has for its one
  // session, which logrotate's delaycompress leaves in place meanwhile.
  ::signal(kReopenLogSignal, SIG_IGN);
  Logger::instance().set_follow_renames(false);
  const int sock = child->end.get();
  if (!options.log_target.empty()) {
    ::closelog();
    (void)Logger::instance().configure(options.log_target, options.log_level);
  }
  Logger::instance().set_role("agent");
  set_proc_title(agent_title(user.name, options.verbose_proctitle));
  if (Status s = become_user(user); !s) {
    log_error("agent: user=" + log_escape(user.name) + ": " + s.error().message);
    OpenOutcome failed;
    failed.status = OpenStatus::kTempFail;
    failed.reason = "mail agent setup failed";
    (void)agent_send_listing(sock, failed);
    ::_exit(kAgentExitSetupFailed);
  }
  MaildirStore store(options.uidl, options.shared_storage);
  exit_forked_child(serve_mail_agent(sock, store, user, options.idle_timeout));
}

}  // namespace pop3d
