#include "privsep/agent.hpp"

#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "daemon/privileges.hpp"
#include "daemon/signals.hpp"
#include "log/logger.hpp"
#include "mailstore/maildir_store.hpp"
#include "privsep/protocol.hpp"
#include "util/child_exit.hpp"

namespace pop3d {

namespace {

constexpr int kAgentExitOk = 0;
constexpr int kAgentExitSetupFailed = 3;
constexpr int kAgentExitProtocol = 4;
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

// agent_commit / client_commit.
Status agent_commit(int sock, Maildrop& drop, MessageReader& r) {
  Result<std::vector<bool>> deleted = decode_commit(r);
  if (!deleted) return deleted.error();
  CommitAnswer answer;
  if (deleted->size() != drop.count()) {
    answer.reason = "commit flags do not match the maildrop";
  } else {
    Result<CommitStats> stats = drop.commit(*deleted);
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

int serve_mail_agent(int sock, MailStore& store, const UserRecord& user) {
  OpenOutcome opened = store.open(user);
  if (Status s = agent_send_listing(sock, opened); !s) {
    log_warning("agent: cannot send the listing: " + s.error().message);
    return kAgentExitProtocol;
  }
  if (opened.status != OpenStatus::kOk || !opened.maildrop) return kAgentExitOk;
  Maildrop& drop = *opened.maildrop;
  for (;;) {
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
      case MsgType::kCommit:
        s = agent_commit(sock, drop, *r);
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

Result<UniqueFd> spawn_mail_agent(const UserRecord& user, const std::string& log_target,
                                  LogLevel level) {
  if (user.uid == 0) return Error{"refusing to start a mail agent as root"};
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    return Error::from_errno("socketpair");
  }
  UniqueFd worker_end(sv[0]);
  UniqueFd agent_end(sv[1]);
  const pid_t helper = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno("fork");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != helper) ::_exit(kAgentExitOk);
    reset_signal_handlers();
    // Reloads and graceful stops are the master's; the agent ends with
    // its session (EOF) or with the helper.
    ::signal(SIGHUP, SIG_IGN);
    ::signal(SIGQUIT, SIG_IGN);
    // The other workers' channels and the control socket stay with the
    // helper; an agent has its socket and stdio only.
    const int keep = agent_end.get();
    if (keep > 3) ::close_range(3, static_cast<unsigned>(keep - 1), 0);
    ::close_range(static_cast<unsigned>(keep + 1), ~0u, 0);
    (void)worker_end.release();
    if (!log_target.empty()) {
      ::closelog();
      (void)Logger::instance().configure(log_target, level);
    }
    Logger::instance().set_role("agent");
    if (Status s = become_user(user); !s) {
      log_error("agent: user=" + log_escape(user.name) + ": " + s.error().message);
      OpenOutcome failed;
      failed.status = OpenStatus::kTempFail;
      failed.reason = "mail agent setup failed";
      (void)agent_send_listing(keep, failed);
      ::_exit(kAgentExitSetupFailed);
    }
    MaildirStore store;
    exit_forked_child(serve_mail_agent(keep, store, user));
  }
  return worker_end;
}

}  // namespace pop3d
