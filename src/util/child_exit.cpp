#include "util/child_exit.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#ifdef POP3D_LEAK_CHECKS
#include <sanitizer/lsan_interface.h>
#endif

namespace pop3d {

void exit_forked_child(int code) {
  std::fflush(nullptr);
#ifdef POP3D_LEAK_CHECKS
  // LeakSanitizer stops the process from a cloned tracer that ptraces it,
  // which a confined child forbids (no new processes, not dumpable). The
  // sanitized build keeps the hard process limit open for this moment only;
  // a report ends the process with LeakSanitizer's exit code.
  rlimit processes{};
  if (::getrlimit(RLIMIT_NPROC, &processes) == 0) {
    processes.rlim_cur = processes.rlim_max;
    (void)::setrlimit(RLIMIT_NPROC, &processes);
  }
  (void)::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  __lsan_do_leak_check();
#endif
  ::_exit(code);
}

}  // namespace pop3d
