// The worker's side of privilege separation: a UserDb that asks the helper
// and a MailStore whose maildrops talk to a mail agent. The POP3 session
// sees only the two interfaces and does not know the difference.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "auth/user_db.hpp"
#include "mailstore/mail_store.hpp"
#include "privsep/protocol.hpp"
#include "stats/metrics_table.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

// The helper answers in the order requests arrive and a crypt(3) check
// costs tens of milliseconds, so a full pool's logins can queue for a
// while; past this the helper is taken to be stuck.
constexpr std::chrono::seconds kHelperAnswerTimeout{60};
// An agent opens a maildrop (reading every name, perhaps the index) before
// it answers; past this it is taken to be stuck.
constexpr std::chrono::seconds kAgentAnswerTimeout{60};

// The worker's channel to the helper. Made unattached when the Service is
// built; the master attaches the worker's end right after fork.
class PrivsepChannel {
 public:
  void attach(UniqueFd fd);
  bool attached() const { return fd_.valid(); }
  // The worker's metrics, where each check's answer is counted; none: not counted.
  void count_checks_in(MetricsTable* metrics) { metrics_ = metrics; }
  MetricsTable* metrics() const { return metrics_; }
  // client_start_session / helper_start_session: hands the helper the
  // session's connected client socket (a copy travels; `client_fd` stays
  // the caller's), so that it reads the client's address itself. Call it
  // once per session, before the first check. `proxied_client` is the
  // address a PROXY protocol header gave ("" when there was none); the
  // helper takes it only from a socket whose peer is a trusted proxy.
  Status client_start_session(int client_fd, std::string_view proxied_client = {});

  // client_check_credentials / helper_check_credentials.
  Result<CheckAnswer> client_check_credentials(std::string_view user, std::string_view password);
  // client_open_maildrop / helper_open_maildrop: the agent's socket.
  Result<UniqueFd> client_open_maildrop();

 private:
  Result<ReceivedMessage> exchange(std::string_view request, MsgType answer_type);
  // A channel that failed once (timeout, EOF, a wrong answer) cannot be
  // trusted to be in step again: the worker finishes its session and
  // exits, and the master forks a replacement with a fresh channel.
  Error broken(const std::string& why);

  UniqueFd fd_;
  MetricsTable* metrics_ = nullptr;
};

class PrivsepUserDb : public UserDb {
 public:
  explicit PrivsepUserDb(std::shared_ptr<PrivsepChannel> channel) : channel_(std::move(channel)) {}
  AuthOutcome authenticate(std::string_view user, std::string_view password) override;
  // System accounts keep crypt(3) hashes only; APOP needs the plaintext.
  AuthOutcome authenticate_apop(std::string_view user, std::string_view timestamp,
                                std::string_view digest) override;
  bool apop_available() override { return false; }

 private:
  std::shared_ptr<PrivsepChannel> channel_;
};

class AgentMailStore : public MailStore {
 public:
  explicit AgentMailStore(std::shared_ptr<PrivsepChannel> channel) : channel_(std::move(channel)) {}
  OpenOutcome open(const UserRecord& user) override;

 private:
  std::shared_ptr<PrivsepChannel> channel_;
};

// The maildrop as the worker sees it: the listing sent at open, and the
// agent's socket for messages and the commit. Closing the socket (the
// destructor) ends the agent, which releases the lock.
class AgentMaildrop : public Maildrop {
 public:
  AgentMaildrop(UniqueFd agent, std::vector<MessageInfo> infos)
      : agent_(std::move(agent)), infos_(std::move(infos)) {}
  size_t count() const override { return infos_.size(); }
  const MessageInfo& info(size_t index) const override { return infos_[index]; }
  // client_open_message / agent_open_message.
  Result<UniqueFd> open_message(size_t index) override;
  // AgentMaildrop::correct_size / agent_correct_size: the agent corrects
  // its index, as MaildirMaildrop does in a session without privsep.
  void correct_size(size_t index, std::optional<FileMeasure> measured) override;
  // client_commit / agent_retrieved_chunk + agent_commit.
  Result<CommitStats> commit(const std::vector<bool>& deleted) override;
  Result<CommitStats> commit(const std::vector<bool>& deleted,
                             const std::vector<bool>& retrieved) override;

 private:
  UniqueFd agent_;
  std::vector<MessageInfo> infos_;
};

// client_receive_listing / agent_send_listing: what the agent says first.
OpenOutcome client_receive_listing(UniqueFd agent);

}  // namespace pop3d
