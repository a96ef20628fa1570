#include "util/child_exit.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#ifdef POP3D_LEAK_CHECKS
#include <dlfcn.h>
#include <sanitizer/lsan_interface.h>

#include <cstdlib>
#include <cstring>
#endif

#ifdef POP3D_LEAK_CHECKS
namespace {

// GCC links UBSan as a runtime of its own beside ASan's, and in that pairing
// UBSan ignores UBSAN_OPTIONS' log_path and reports to stderr, where a
// daemon's report is easily lost (tests/run-all scans the log_path folder of
// each suite). This hands log_path to UBSan's own copy of the setting, in
// every process of a sanitized build before main (children inherit it).
__attribute__((constructor)) void route_ubsan_reports_to_log_path() {
  const char* options = std::getenv("UBSAN_OPTIONS");
  if (options == nullptr) return;
  const char* value = nullptr;  // the last log_path= wins, as for the runtime
  for (const char* p = options; (p = std::strstr(p, "log_path=")) != nullptr; p += 9) value = p + 9;
  if (value == nullptr) return;
  static char path[4096];  // static: sound whether or not the runtime copies it
  const size_t length = std::strcspn(value, ":");
  if (length == 0 || length >= sizeof path) return;
  std::memcpy(path, value, length);
  path[length] = '\0';
  void* ubsan = ::dlopen("libubsan.so.1", RTLD_NOLOAD | RTLD_LAZY);
  if (ubsan == nullptr) return;  // clang's combined runtime, or no UBSan
  using SetReportPath = void (*)(const char*);
  auto set = reinterpret_cast<SetReportPath>(::dlsym(ubsan, "__sanitizer_set_report_path"));
  if (set != nullptr) set(path);
}

}  // namespace
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
