#include "daemon/signals.hpp"

#include <pthread.h>

#include "log/logger.hpp"

namespace pop3d {

namespace {

SignalFlags g_flags;

struct SignalEntry {
  int signo;
  volatile sig_atomic_t SignalFlags::*flag;
};

constexpr SignalEntry kSignals[] = {
    {SIGCHLD, &SignalFlags::child_exited},  {SIGTERM, &SignalFlags::terminate},
    {SIGINT, &SignalFlags::terminate},      {SIGQUIT, &SignalFlags::graceful},
    {SIGHUP, &SignalFlags::reload},         {SIGALRM, &SignalFlags::alarm},
    {kEvictionSignal, &SignalFlags::evict}, {kReopenLogSignal, &SignalFlags::reopen},
};

void on_signal(int signo) {
  // Only flags: the reopen itself happens at the next line logged.
  if (signo == kReopenLogSignal) Logger::request_reopen();
  for (const auto& entry : kSignals) {
    if (entry.signo == signo) g_flags.*(entry.flag) = 1;
  }
}

}  // namespace

SignalFlags& signal_flags() {
  return g_flags;
}

void install_signal_handlers() {
  sigset_t handled;
  sigemptyset(&handled);
  for (const auto& entry : kSignals) sigaddset(&handled, entry.signo);
  sigprocmask(SIG_BLOCK, &handled, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_mask = handled;
  for (const auto& entry : kSignals) sigaction(entry.signo, &sa, nullptr);
  // Where the reopen signal is not blocked (check processes, see
  // reset_signal_handlers) it may come during a read: restart it.
  sa.sa_flags = SA_RESTART;
  sigaction(kReopenLogSignal, &sa, nullptr);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, nullptr);
}

sigset_t wait_mask() {
  sigset_t mask;
  sigprocmask(SIG_BLOCK, nullptr, &mask);
  for (const auto& entry : kSignals) sigdelset(&mask, entry.signo);
  return mask;
}

sigset_t eviction_wait_mask() {
  sigset_t mask;
  sigprocmask(SIG_BLOCK, nullptr, &mask);
  sigdelset(&mask, kEvictionSignal);
  sigdelset(&mask, kReopenLogSignal);
  return mask;
}

void reset_signal_handlers() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (const auto& entry : kSignals) {
    if (entry.signo != kReopenLogSignal) sigaction(entry.signo, &dfl, nullptr);
  }
  sigaction(SIGPIPE, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace pop3d
