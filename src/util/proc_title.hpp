// Process titles: what `ps` shows for each pop3d process ("pop3d: master",
// "pop3d: worker [alice 192.0.2.10 TRANSACTION]"), so that an administrator
// sees which process does what without reading the log.
//
// Linux shows a process's argv memory as its command line, so the title is
// written over argv and the environment strings that follow them (the
// environment is moved to the heap first, so getenv keeps working). The
// kernel's short name (/proc/PID/comm, what `pkill -x` and logrotate's
// `pidof` look at) stays "pop3d".
#pragma once

#include <string>

namespace pop3d {

// Call once, first thing in main, before anything keeps a pointer into the
// environment. The argv strings stay readable until the first
// set_proc_title, which writes over them: parse the command line before.
// Without it set_proc_title does nothing.
void init_proc_title(int argc, char** argv);

// "pop3d: " + title, cut to the room argv had.
void set_proc_title(const std::string& title);

// What a worker is doing, for its title.
struct WorkerActivity {
  enum class State { kIdle, kAuthorization, kTransaction };
  State state = State::kIdle;
  std::string user;     // once logged in
  std::string address;  // the client's
};

// "worker [idle]", "worker [192.0.2.10 AUTHORIZATION]",
// "worker [alice 192.0.2.10 TRANSACTION]"; without `verbose`, the user and
// address are left out (other local users may run ps). Bytes that are not
// printable ASCII show as '?', since a title is read on a terminal.
std::string worker_title(const WorkerActivity& activity, bool verbose);

// "agent [alice]", or "agent" without `verbose`.
std::string agent_title(const std::string& user, bool verbose);

}  // namespace pop3d
