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
};

// The flags of this process (signals are process-wide by nature).
SignalFlags& signal_flags();

// Installs the handlers for every signal in the table and blocks them; the
// loops unblock them only while waiting. SIGPIPE is ignored.
void install_signal_handlers();

// The mask to wait with: the current mask minus the handled signals.
sigset_t wait_mask();

// Restores default dispositions and an empty mask (for exec'd children).
void reset_signal_handlers();

}  // namespace pop3d
