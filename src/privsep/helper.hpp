// The privileged helper: the one process of pop3d that stays root after
// start-up, as sshd's monitor and Dovecot's auth process do. It never reads
// from the network; it answers fixed-format requests from workers, each on
// its own channel (an AF_UNIX SOCK_SEQPACKET socketpair that the master
// makes per worker and hands over with SCM_RIGHTS on the control socket):
//
//   check-credentials (user, password, client address)
//       -> ok + user record (never a hash), or a reason code
//   open-maildrop (once, after a successful check on the same channel)
//       -> the socket of a fresh mail agent running as that user
//
// Requests dispatch through one table of {type, permit needed, once-only,
// handler}; a request the channel's permits do not allow, or one that is
// malformed, closes that channel and is logged. Checks are rate-limited per
// channel (a token bucket) and answered "try later" beyond the limit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "auth/system_users.hpp"
#include "config/settings.hpp"
#include "privsep/protocol.hpp"
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
};

class Helper {
 public:
  Helper(CredentialChecker& checker, HelperOptions options);

  // Serves the control socket and every channel until the control socket
  // closes (the master is gone) or SIGTERM; returns the exit code.
  int run(UniqueFd control);

 private:
  enum Permit : unsigned {
    kPermitCheck = 1u << 0,
    kPermitOpen = 1u << 1,  // set by a successful check, cleared by use
  };
  struct Channel {
    UniqueFd fd;
    unsigned id = 0;
    unsigned permits = kPermitCheck;
    std::optional<UserRecord> checked;  // the user of the last good check
    TokenBucket bucket;
  };
  using Handler = bool (Helper::*)(Channel&, MessageReader&);
  struct Dispatch {
    MsgType type;
    unsigned needs;  // a Permit bit
    bool once;       // clears its permit when used
    Handler handler;
  };
  static const Dispatch kDispatch[];

  void helper_accept_channel(int control);
  // False when the channel must be closed.
  bool serve(Channel& channel);
  bool helper_check_credentials(Channel& channel, MessageReader& request);
  bool helper_open_maildrop(Channel& channel, MessageReader& request);
  void refuse(Channel& channel, const std::string& why);
  void reap_agents();

  CredentialChecker& checker_;
  HelperOptions options_;
  std::vector<Channel> channels_;
  unsigned next_id_ = 1;
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
