// Worker: one pre-forked process that accepts connections on every
// listener and serves one session at a time, in isolation: a crash here
// ends only this session, and the master forks a replacement.
#pragma once

#include <vector>

#include "daemon/service.hpp"
#include "net/listener.hpp"

namespace pop3d {

// Exit codes a worker reports to the master.
constexpr int kWorkerExitOk = 0;
// The worker cannot run with these settings; respawning it would only
// fail again, so the master does not (nginx's "fatal configuration").
constexpr int kWorkerExitFatalConfig = 2;

// Runs the worker loop until SIGTERM or SIGQUIT; returns the exit code.
int run_worker(const Service& service, const std::vector<Listener>& listeners);

}  // namespace pop3d
