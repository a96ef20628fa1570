// Detaching from the terminal the classic way: fork, setsid, fork again (so
// the daemon can never reacquire a controlling terminal), chdir("/"), and
// standard input and output to /dev/null.
#pragma once

#include "util/result.hpp"

namespace pop3d {

// Returns in the daemon; the original process exits 0.
Status daemonize();

}  // namespace pop3d
