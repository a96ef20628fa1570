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
  // kReopenLogSignal: the log file was rotated. The handler has asked the
  // Logger to reopen it already; this flag tells the master and the helper
  // to pass the signal on to the processes they started.
  volatile sig_atomic_t reopen = 0;
};

// Sent by one worker to another (both run as the service user); the
// master ignores it. Not SIGUSR1: operators and logrotate send that one.
constexpr int kEvictionSignal = SIGUSR2;

// Sent by logrotate (etc/logrotate.d/pop3d) to the master, which passes it
// on to its workers: each reopens log.target. The privileged helper is root,
// out of the master's reach, and looks at the path itself (Logger's
// follow_renames); sent to it by root, it passes it on to its check
// processes. Mail agents ignore it (they cannot open the file once they run
// as the mailbox's owner).
constexpr int kReopenLogSignal = SIGUSR1;

// The flags of this process (signals are process-wide by nature).
SignalFlags& signal_flags();

// Installs the handlers for every signal in the table and blocks them; the
// loops unblock them only while waiting. SIGPIPE is ignored.
void install_signal_handlers();

// The mask to wait with: the current mask minus the handled signals.
sigset_t wait_mask();

// The mask for a session's socket waits: the current mask minus
// kEvictionSignal and kReopenLogSignal, so that an eviction wakes a session
// blocked in a read or a write, and a long session's lines go to the new log
// file, while SIGTERM and the rest still wait for its end.
sigset_t eviction_wait_mask();

// Restores default dispositions and an empty mask, for a forked child that
// goes its own way (check processes, mail agents). kReopenLogSignal keeps
// its handler: its default action would end the child, and nothing must be
// able to end it between this call and its own setup.
void reset_signal_handlers();

}  // namespace pop3d
