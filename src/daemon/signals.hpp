// Signals: one table says which signals pop3d handles and what each means.
// Handlers only set flags; the master's loop (sigsuspend) and the worker's
// (epoll_pwait) look at them with the signals blocked, in a fixed order.
#pragma once

#include <csignal>

namespace pop3d {

struct SignalFlags {
  volatile sig_atomic_t child_exited = 0;  // SIGCHLD: reap
  volatile sig_atomic_t terminate = 0;     // SIGTERM, SIGINT: stop
  volatile sig_atomic_t graceful = 0;      // SIGQUIT: finish the session, then exit
  volatile sig_atomic_t reload = 0;        // SIGHUP: re-read the settings
  volatile sig_atomic_t alarm = 0;         // SIGALRM: a timer of the master
  // kEvictionSignal: a newcomer asks this worker's session to yield its
  // connection slot (look in the connection table whether it still must).
  volatile sig_atomic_t evict = 0;
};

// Sent by one worker to another (both run as the service user); the
// master ignores it.
constexpr int kEvictionSignal = SIGUSR1;

// The flags of this process (signals are process-wide by nature).
SignalFlags& signal_flags();

// Installs the handlers for every signal in the table and blocks them; the
// loops unblock them only while waiting. SIGPIPE is ignored.
void install_signal_handlers();

// The mask to wait with: the current mask minus the handled signals.
sigset_t wait_mask();

// The mask for a session's socket waits: the current mask minus
// kEvictionSignal alone, so that an eviction wakes a session blocked in a
// read or a write while SIGTERM and the rest still wait for its end.
sigset_t eviction_wait_mask();

// Restores default dispositions and an empty mask (for exec'd children).
void reset_signal_handlers();

}  // namespace pop3d
