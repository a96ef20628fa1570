// Forking children that must not outlive their parent: the privileged
// helper (of the master), its check processes and mail agents (of the
// helper), and workers (of the master).
//
// master.cpp's spawn_worker does the same fork + PR_SET_PDEATHSIG + parent
// check by hand and should call fork_with_pdeathsig() too.
#pragma once

#include <sys/types.h>

#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

// fork(); the child gets SIGTERM when the parent dies, and a child whose
// parent died before the prctl took hold exits at once (the signal would
// never come). 0 in the child, the child's pid in the parent.
Result<pid_t> fork_with_pdeathsig();

// One end of an AF_UNIX SOCK_SEQPACKET socketpair, in the process that
// holds it.
struct ChildChannel {
  pid_t pid = 0;  // 0 in the child
  UniqueFd end;   // the parent's end in the parent, the child's in the child
};

// socketpair + fork_with_pdeathsig. The child closes every descriptor but
// stdio and its end, so that it never holds another peer's channel, a
// listener or a shared table; whatever log it writes it must reopen
// (syslog's socket went too: call closelog() before logging).
Result<ChildChannel> fork_child_with_channel();

}  // namespace pop3d
