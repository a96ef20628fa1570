// The privileged helper: the one process of pop3d that stays root after
// start-up, as sshd's monitor and Dovecot's auth process do. It never reads
// from the network; it answers fixed-format requests from workers, each on
// its own channel (an AF_UNIX SOCK_SEQPACKET socketpair that the master
// makes per worker and hands over with SCM_RIGHTS on the control socket):
//
//   session-start (the client's connected socket attached; no answer)
//       the helper reads the client's address with getpeername() itself
//   check-credentials (user, password)
//       -> ok + user record (never a hash), or a reason code
//   open-maildrop (once, after a successful check on the same channel)
//       -> the socket of a fresh mail agent running as that user
//
// Requests dispatch through one table of {type, permit needed, once-only,
// handler}; a request the channel's permits do not allow, or one that is
// malformed, closes that channel and is logged. Checks are rate-limited per
// channel (a token bucket) and answered "try later" beyond the limit.
//
// Any worker may be subverted, so none may stall the others: every channel
// is non-blocking with a few answers of user-space queue at most (a worker
// that does not read is dropped), and the checks themselves (crypt(3), PAM,
// NSS, any of which may be slow) run in a small pool of check processes,
// never in the loop that serves the channels.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "auth/system_users.hpp"
#include "config/settings.hpp"
#include "mailstore/shared_storage.hpp"
#include "mailstore/uid_source.hpp"
#include "privsep/protocol.hpp"
#include "security/ip_list.hpp"
#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

// A worker serves one session at a time and a session tries a few
// passwords at most; five checks a second with a burst of ten is far above
// that and far below what a guessing loop in a subverted worker wants.
constexpr double kChecksPerSecond = 5.0;
constexpr double kCheckBurst = 10.0;
// Channels the helper serves at once: a full pool, and the old pool that
// is still finishing its sessions after a reload.
constexpr size_t kMaxChannels = 2 * 10001;
// Answers a channel may have waiting in user space once its socket buffer
// (some hundred answers) is full. A worker waits for each answer before it
// asks again, so a legitimate one never comes near this.
constexpr size_t kMaxQueuedAnswers = 4;
// A channel whose queued answers the worker has not taken for this long is
// closed: a live worker reads within its own answer time-out.
constexpr std::chrono::seconds kChannelDrainTimeout{10};
// Check processes: a few crypt(3) or PAM checks at once keep a 2-core host
// busy; more would only make each slower. A check waiting for one of them
// is queued, and past kMaxQueuedChecks answered "try later".
constexpr size_t kCheckProcesses = 4;
constexpr size_t kMaxQueuedChecks = 64;
// A check that takes longer has a hung PAM module or NSS source: its
// process is killed and replaced, and the worker told "temporary failure"
// well before its own time-out (client.hpp, 60 s) gives up on the channel.
constexpr std::chrono::seconds kCheckDeadline{30};

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double per_second, double burst, Clock::time_point now)
      : per_second_(per_second), burst_(burst), tokens_(burst), last_(now) {}
  // Takes one token when there is one.
  bool take(Clock::time_point now);

 private:
  double per_second_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

struct HelperOptions {
  std::string mail_location = "%h/Maildir";
  uid_t first_valid_uid = 1000;
  // Each mail agent reopens the log before it drops root ("" keeps what
  // the process has, e.g. stderr in tests).
  std::string log_target;
  LogLevel log_level = LogLevel::kInfo;
  double checks_per_second = kChecksPerSecond;
  double check_burst = kCheckBurst;
  // pop3.idle_timeout: a mail agent whose worker says nothing for this long
  // exits and releases the maildrop.
  std::chrono::seconds agent_idle_timeout{600};
  UidlChoice uidl;                                      // pop3.uidl_format, for the mail agents
  SharedStorage shared_storage = SharedStorage::kAuto;  // mailstore.shared_storage, likewise
  bool verbose_proctitle = true;                        // general.verbose_proctitle
  size_t check_processes = kCheckProcesses;
  std::chrono::milliseconds check_deadline = kCheckDeadline;
  // pop3.proxy_protocol and pop3.proxy_trusted_networks, as at start-up: a
  // session's client address is taken from its worker only when the
  // socket's own peer is one of these proxies.
  bool proxy_protocol = false;
  IpList proxy_trusted;
};

class Helper {
 public:
  Helper(CredentialChecker& checker, HelperOptions options);

  // Serves the control socket and every channel until the control socket
  // closes (the master is gone) or SIGTERM; returns the exit code.
  int run(UniqueFd control);

 private:
  using Clock = std::chrono::steady_clock;
  enum Permit : unsigned {
    kPermitSession = 1u << 0,  // always
    kPermitCheck = 1u << 1,    // set by session-start
    kPermitOpen = 1u << 2,     // set by a successful check, cleared by use
  };
  // An answer the channel's socket had no room for yet.
  struct QueuedAnswer {
    std::string bytes;
    UniqueFd fd;
  };
  struct Channel {
    UniqueFd fd;
    unsigned id = 0;
    unsigned permits = kPermitSession;
    std::optional<UserRecord> checked;  // the user of the last good check
    TokenBucket bucket;
    std::string peer;              // the session's client (getpeername(), or its proxy's word)
    bool check_in_flight = false;  // no request is legal until it is answered
    bool closing = false;          // refused and logged; dropped after this round
    std::deque<QueuedAnswer> out;
    Clock::time_point out_since;  // when `out` last became non-empty or drained
  };
  struct CheckJob {
    unsigned channel = 0;
    std::string user;
    SecretString password;
    std::string address;
  };
  struct CheckProcess {
    pid_t pid = 0;
    UniqueFd fd;
    std::optional<CheckJob> job;  // the check it runs (password wiped)
    Clock::time_point started;
  };
  using Handler = void (Helper::*)(Channel&, ReceivedMessage&, MessageReader&);
  struct Dispatch {
    MsgType type;
    unsigned needs;  // a Permit bit
    bool once;       // clears its permit when used
    bool takes_fd;   // the request carries a descriptor
    Handler handler;
  };
  static const Dispatch kDispatch[];

  void helper_accept_channel(int control);
  void serve(Channel& channel);
  void helper_start_session(Channel& channel, ReceivedMessage& got, MessageReader& request);
  void helper_check_credentials(Channel& channel, ReceivedMessage& got, MessageReader& request);
  void helper_open_maildrop(Channel& channel, ReceivedMessage& got, MessageReader& request);
  // Answers now, or queues the answer; closes the channel over the bound.
  void answer(Channel& channel, MessageBuilder& b, UniqueFd fd = {});
  void answer_check(Channel& channel, const CheckJob& job, CheckAnswer result);
  void flush(Channel& channel);
  void refuse(Channel& channel, const std::string& why);
  Channel* channel_by_id(unsigned id);

  // The pool of check processes.
  void start_check_processes();
  void dispatch_checks();
  void finish_check(CheckProcess& process);
  void fail_check(CheckProcess& process, const std::string& why);
  void expire_checks(Clock::time_point now);
  void reap_children();
  // In a child just forked: wipes the copies of waiting checks' passwords.
  void forget_queued_passwords();
  // The ppoll time-out: the nearest check deadline or channel drain limit.
  std::optional<Clock::duration> next_timeout(Clock::time_point now) const;

  CredentialChecker& checker_;
  HelperOptions options_;
  std::map<unsigned, Channel> channels_;
  unsigned next_id_ = 1;
  std::vector<CheckProcess> pool_;
  std::deque<CheckJob> queued_;
};

// The helper process as main() starts it, before the privilege drop.
struct HelperProcess {
  pid_t pid = 0;
  UniqueFd control;  // the master's end; workers never hold it
};

// Forks the helper: it closes every descriptor it inherited (listeners,
// tables) but its end of the control socket, reopens the log and serves.
Result<HelperProcess> start_privsep_helper(const Settings& settings, const std::string& log_target);

// Hands the helper's end of a worker's channel to the helper.
Status master_hand_channel(int control, const UniqueFd& helper_end);

}  // namespace pop3d
