#include "util/proc_title.hpp"

#include <unistd.h>

#include <cstring>
#include <vector>

extern char** environ;

namespace pop3d {
namespace {

// The argv area this process may overwrite: [begin, begin + size). Set
// once, by init_proc_title in main, before any other thread exists.
struct TitleArea {
  char* begin = nullptr;
  size_t size = 0;
};

TitleArea& title_area() {
  static TitleArea area;
  return area;
}

// The environment's new home (see init_proc_title). Never destroyed: exit
// handlers may still call getenv.
struct MovedEnvironment {
  std::vector<char> strings;
  std::vector<char*> pointers;
};

MovedEnvironment& moved_environment() {
  static auto* moved = new MovedEnvironment;
  return *moved;
}

std::string printable(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

}  // namespace

void init_proc_title(int argc, char** argv) {
  if (argc <= 0 || argv == nullptr || argv[0] == nullptr) return;
  // The strings are contiguous in the kernel's layout; stop at the first
  // that is not, rather than write over memory that is not argv's.
  char* begin = argv[0];
  char* end = argv[0] + std::strlen(argv[0]) + 1;
  for (int i = 1; i < argc && argv[i] == end; ++i) end = argv[i] + std::strlen(argv[i]) + 1;
  size_t env_count = 0;
  if (environ != nullptr) {
    while (environ[env_count] != nullptr) ++env_count;
  }
  if (env_count > 0 && environ[0] == end) {
    // The environment follows argv: move it to the heap so that its room
    // can hold the title. One block for all the strings, kept for life by
    // moved_environment(): an unsetenv() later drops a pointer into it, not
    // the only pointer to a string of its own.
    MovedEnvironment& moved = moved_environment();
    size_t bytes = 0;
    for (size_t i = 0; i < env_count; ++i) bytes += std::strlen(environ[i]) + 1;
    moved.strings.resize(bytes);
    moved.pointers.resize(env_count + 1, nullptr);
    char* next = moved.strings.data();
    for (size_t i = 0; i < env_count; ++i) {
      const size_t n = std::strlen(environ[i]) + 1;
      if (environ[i] == end) end = environ[i] + n;
      std::memcpy(next, environ[i], n);
      moved.pointers[i] = next;
      next += n;
    }
    environ = moved.pointers.data();
  }
  title_area() = TitleArea{begin, static_cast<size_t>(end - begin)};
}

void set_proc_title(const std::string& title) {
  TitleArea& area = title_area();
  if (area.begin == nullptr || area.size < 2) return;
  const std::string text = "pop3d: " + title;
  const size_t n = std::min(text.size(), area.size - 1);
  std::memcpy(area.begin, text.data(), n);
  // The rest is zeroed: the kernel shows the area up to its first NUL, and
  // stale bytes of a longer title must not trail a shorter one.
  std::memset(area.begin + n, 0, area.size - n);
}

std::string worker_title(const WorkerActivity& activity, bool verbose) {
  using State = WorkerActivity::State;
  if (activity.state == State::kIdle) return "worker [idle]";
  const char* state = activity.state == State::kTransaction ? "TRANSACTION" : "AUTHORIZATION";
  std::string inside;
  if (verbose) {
    if (activity.state == State::kTransaction && !activity.user.empty()) {
      inside += printable(activity.user) + " ";
    }
    if (!activity.address.empty()) inside += printable(activity.address) + " ";
  }
  return "worker [" + inside + state + "]";
}

std::string agent_title(const std::string& user, bool verbose) {
  if (!verbose || user.empty()) return "agent";
  return "agent [" + printable(user) + "]";
}

}  // namespace pop3d
