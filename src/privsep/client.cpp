#include "privsep/client.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "auth/dummy_hash.hpp"
#include "auth/password_scheme.hpp"
#include "log/logger.hpp"
#include "stats/session_metrics.hpp"

namespace pop3d {

namespace {

void set_receive_timeout(int fd, std::chrono::seconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count());
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// The worker finishes the session it is in, then exits; the master forks
// a replacement with a fresh channel.
void retire_worker() {
  ::kill(::getpid(), SIGQUIT);
}

AuthOutcome outcome_of(AuthStatus status, std::string reason) {
  AuthOutcome o;
  o.status = status;
  o.reason = std::move(reason);
  return o;
}

// What the helper would spend on a name it refuses unseen (its dummy is in
// the same default class until it has seen real users), so that a name the
// worker refuses locally costs the same.
void spend_dummy_check(std::string_view password) {
  (void)verify_password(process_dummy_hash().view(), password);
}

// Reads one answer of `type` from `fd`.
Result<ReceivedMessage> read_answer(int fd, MsgType type, size_t max_size) {
  Result<ReceivedMessage> got = receive_message(fd, max_size);
  if (!got) {
    if (got.error().sys_errno == EAGAIN || got.error().sys_errno == EWOULDBLOCK) {
      return Error{"no answer in time"};
    }
    return got.error().message == "eof" ? Error{"the other side closed"} : got.error();
  }
  Result<MessageReader> r = MessageReader::parse(got->bytes, max_size);
  if (!r) return r.error();
  if (r->type() != type) {
    return Error{std::string("answer of the wrong type: ") + msg_type_name(r->type()) +
                 " instead of " + msg_type_name(type)};
  }
  return got;
}

}  // namespace

void PrivsepChannel::attach(UniqueFd fd) {
  fd_ = std::move(fd);
  if (fd_) set_receive_timeout(fd_.get(), kHelperAnswerTimeout);
}

Error PrivsepChannel::broken(const std::string& why) {
  log_error("privsep: channel to the helper broken: " + why +
            "; this worker ends after the session");
  fd_.reset();
  retire_worker();
  return Error{"privileged helper unavailable: " + why};
}

Result<ReceivedMessage> PrivsepChannel::exchange(std::string_view request, MsgType answer_type) {
  if (!fd_) return Error{"no channel to the privileged helper"};
  if (Status s = send_message(fd_.get(), request); !s) return broken(s.error().message);
  Result<ReceivedMessage> got = read_answer(fd_.get(), answer_type, kMaxAgentMessageSize);
  if (!got) return broken(got.error().message);
  return got;
}

Status PrivsepChannel::client_start_session(int client_fd, std::string_view proxied_client) {
  if (!fd_) return Error{"no channel to the privileged helper"};
  MessageBuilder b(MsgType::kSessionStart);
  b.str(proxied_client);
  if (Status s = send_message(fd_.get(), b.view(), client_fd); !s) {
    return broken(s.error().message);
  }
  return {};
}

Result<CheckAnswer> PrivsepChannel::client_check_credentials(std::string_view user,
                                                             std::string_view password) {
  MessageBuilder b(MsgType::kCheckCredentials);
  encode_check_request(b, user, password);
  Result<ReceivedMessage> got = exchange(b.view(), MsgType::kCheckAnswer);
  if (!got) return got.error();
  Result<MessageReader> r = MessageReader::parse(got->bytes, kMaxAgentMessageSize);
  Result<CheckAnswer> answer = decode_check_answer(*r);
  if (!answer) return broken("bad check answer: " + answer.error().message);
  return answer;
}

Result<UniqueFd> PrivsepChannel::client_open_maildrop() {
  MessageBuilder b(MsgType::kOpenMaildrop);
  Result<ReceivedMessage> got = exchange(b.view(), MsgType::kOpenAnswer);
  if (!got) return got.error();
  Result<MessageReader> r = MessageReader::parse(got->bytes, kMaxAgentMessageSize);
  const uint8_t ok = r->u8();
  const std::string reason(r->str(kMaxReasonLength, "reason"));
  if (Status s = r->finish(); !s) return broken("bad open answer: " + s.error().message);
  if (ok == 1 && got->fd) return std::move(got->fd);
  if (ok == 1) return broken("open answer without the agent's socket");
  return Error{"mail agent not started: " + reason};
}

AuthOutcome PrivsepUserDb::authenticate(std::string_view user, std::string_view password) {
  // Names and passwords the helper would refuse as malformed are refused
  // here, at the same cost, instead of costing the worker its channel.
  if (!is_valid_system_user_name(user) || password.size() > kMaxPasswordLength ||
      password.find('\0') != std::string_view::npos) {
    spend_dummy_check(password);
    return outcome_of(AuthStatus::kUnknownUser, "not a system user name or password");
  }
  Result<CheckAnswer> answer = channel_->client_check_credentials(user, password);
  count_helper_check(channel_->metrics(), answer ? std::optional(answer->check) : std::nullopt);
  if (!answer) return outcome_of(AuthStatus::kTempFail, answer.error().message);
  AuthOutcome o = outcome_of(auth_status_for(answer->check), account_check_name(answer->check));
  if (answer->check == AccountCheck::kOk) o.user = std::move(answer->user);
  return o;
}

AuthOutcome PrivsepUserDb::authenticate_apop(std::string_view, std::string_view, std::string_view) {
  return outcome_of(AuthStatus::kBadPassword, "APOP is not available for system users");
}

OpenOutcome client_receive_listing(UniqueFd agent) {
  OpenOutcome out;
  set_receive_timeout(agent.get(), kAgentAnswerTimeout);
  Result<ReceivedMessage> got =
      read_answer(agent.get(), MsgType::kAgentOpened, kMaxAgentMessageSize);
  if (!got) {
    out.reason = "mail agent: " + got.error().message;
    return out;
  }
  Result<MessageReader> r = MessageReader::parse(got->bytes, kMaxAgentMessageSize);
  Result<AgentOpened> head = decode_agent_opened(*r);
  if (!head) {
    out.reason = "mail agent: " + head.error().message;
    return out;
  }
  if (head->status != OpenStatus::kOk) {
    out.status = head->status;
    out.reason = head->reason;
    return out;
  }
  std::vector<MessageInfo> infos;
  infos.reserve(head->count);
  while (infos.size() < head->count) {
    Result<ReceivedMessage> chunk =
        read_answer(agent.get(), MsgType::kAgentListChunk, kMaxAgentMessageSize);
    if (!chunk) {
      out.reason = "mail agent listing: " + chunk.error().message;
      return out;
    }
    Result<MessageReader> cr = MessageReader::parse(chunk->bytes, kMaxAgentMessageSize);
    if (Status s = decode_list_chunk(*cr, infos, head->count); !s) {
      out.reason = "mail agent listing: " + s.error().message;
      return out;
    }
  }
  out.status = OpenStatus::kOk;
  out.maildrop = std::make_unique<AgentMaildrop>(std::move(agent), std::move(infos));
  return out;
}

OpenOutcome AgentMailStore::open(const UserRecord&) {
  // The helper opens the maildrop of the user it checked on this channel;
  // the worker names nobody, so it cannot ask for anyone else's.
  Result<UniqueFd> agent = channel_->client_open_maildrop();
  if (!agent) {
    OpenOutcome out;
    out.reason = agent.error().message;
    return out;
  }
  return client_receive_listing(std::move(*agent));
}

Result<UniqueFd> AgentMaildrop::open_message(size_t index) {
  if (!agent_) return Error{"mail agent gone"};
  MessageBuilder b(MsgType::kOpenMessage);
  b.u32(static_cast<uint32_t>(index));
  if (Status s = send_message(agent_.get(), b.view()); !s) return s.error();
  Result<ReceivedMessage> got =
      read_answer(agent_.get(), MsgType::kMessageAnswer, kMaxAgentMessageSize);
  if (!got) {
    agent_.reset();
    log_error("mail agent: " + got.error().message);
    retire_worker();
    return got.error();
  }
  Result<MessageReader> r = MessageReader::parse(got->bytes, kMaxAgentMessageSize);
  const uint8_t ok = r->u8();
  const std::string reason(r->str(kMaxReasonLength, "reason"));
  if (Status s = r->finish(); !s) return s.error();
  if (ok == 1 && got->fd) {
    ::lseek(got->fd.get(), 0, SEEK_SET);
    return std::move(got->fd);
  }
  return Error{ok == 1 ? "mail agent sent no descriptor" : reason};
}

void AgentMaildrop::correct_size(size_t index, std::optional<FileMeasure> measured) {
  if (!agent_ || index >= infos_.size()) return;
  MessageBuilder b(MsgType::kCorrectSize);
  encode_correct_size(b, SizeCorrection{static_cast<uint32_t>(index), measured});
  // No answer: the session goes on either way, and a lost correction only
  // means the next session lists the wrong size once more.
  if (Status s = send_message(agent_.get(), b.view()); !s) {
    log_warning("mail agent: cannot pass on a size correction: " + s.error().message);
  }
}

Result<CommitStats> AgentMaildrop::commit(const std::vector<bool>& deleted) {
  return commit(deleted, {});
}

Result<CommitStats> AgentMaildrop::commit(const std::vector<bool>& deleted,
                                          const std::vector<bool>& retrieved) {
  if (!agent_) return Error{"mail agent gone"};
  if (!retrieved.empty() && retrieved.size() != infos_.size())
    return Error{"commit: retrieved flag count mismatch"};
  // Only when there is something to mark: most sessions send none.
  if (std::find(retrieved.begin(), retrieved.end(), true) != retrieved.end()) {
    for (size_t first = 0; first < retrieved.size(); first += kRetrievedPerChunk) {
      const size_t n = std::min<size_t>(kRetrievedPerChunk, retrieved.size() - first);
      MessageBuilder chunk(MsgType::kRetrievedChunk);
      encode_retrieved_chunk(chunk, retrieved, first, n);
      if (Status s = send_message(agent_.get(), chunk.view()); !s) return s.error();
    }
  }
  MessageBuilder b(MsgType::kCommit);
  encode_commit(b, deleted);
  if (Status s = send_message(agent_.get(), b.view()); !s) return s.error();
  Result<ReceivedMessage> got =
      read_answer(agent_.get(), MsgType::kCommitAnswer, kMaxAgentMessageSize);
  if (!got) {
    agent_.reset();
    return got.error();
  }
  Result<MessageReader> r = MessageReader::parse(got->bytes, kMaxAgentMessageSize);
  Result<CommitAnswer> answer = decode_commit_answer(*r);
  agent_.reset();  // the agent exits after a commit
  if (!answer) return answer.error();
  if (!answer->ok) return Error{answer->reason};
  return answer->stats;
}

}  // namespace pop3d
