#include "config/include_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/config.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

namespace {

// A cycle of includes is cut by libconfig at depth 10, but a file that
// includes itself twice would make 2^10 files to vet first.
constexpr int kMaxIncludedFiles = 256;

class IncludeChecker {
 public:
  explicit IncludeChecker(size_t max_bytes) : max_bytes_(max_bytes) {}

  Status check(std::string_view text, const std::string& source, int depth);

 private:
  Status vet(const std::string& written, const std::string& where, int depth);

  size_t max_bytes_;
  int files_ = 0;
};

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// Matches libconfig 1.5's `^[ \t]*@include[ \t]+\"` at `pos`; returns the
// position after the opening quote, or npos.
size_t match_include_open(std::string_view text, size_t pos) {
  while (pos < text.size() && is_blank(text[pos])) ++pos;
  constexpr std::string_view kKeyword = "@include";
  if (text.substr(pos, kKeyword.size()) != kKeyword) return std::string_view::npos;
  pos += kKeyword.size();
  const size_t blanks = pos;
  while (pos < text.size() && is_blank(text[pos])) ++pos;
  if (pos == blanks || pos >= text.size() || text[pos] != '"') return std::string_view::npos;
  return pos + 1;
}

Status IncludeChecker::check(std::string_view text, const std::string& source, int depth) {
  size_t pos = 0;
  int line = 1;
  bool line_start = true;
  // The scanner's states, as far as they decide where an @include counts:
  // not inside a string or a comment.
  while (pos < text.size()) {
    if (line_start) {
      line_start = false;
      const size_t path_start = match_include_open(text, pos);
      if (path_start != std::string_view::npos) {
        const int include_line = line;
        std::string path;
        size_t i = path_start;
        for (; i < text.size() && text[i] != '"'; ++i) {
          if (text[i] == '\n') ++line;
          if (text[i] == '\\' && i + 1 < text.size() &&
              (text[i + 1] == '\\' || text[i + 1] == '"')) {
            ++i;
          }
          path += text[i];
        }
        if (i >= text.size()) return {};  // unterminated: libconfig reports it
        const std::string where = source + ":" + std::to_string(include_line);
        if (Status s = vet(path, where, depth); !s) return s;
        pos = i + 1;
        continue;
      }
    }
    const char c = text[pos];
    if (c == '\n') {
      ++line;
      line_start = true;
      ++pos;
    } else if (c == '"') {
      for (++pos; pos < text.size() && text[pos] != '"'; ++pos) {
        if (text[pos] == '\n') ++line;
        if (text[pos] == '\\' && pos + 1 < text.size() && text[pos + 1] != '\n') ++pos;
      }
      ++pos;
    } else if (c == '#' || text.substr(pos, 2) == "//") {
      while (pos < text.size() && text[pos] != '\n') ++pos;
    } else if (text.substr(pos, 2) == "/*") {
      pos += 2;
      while (pos < text.size() && text.substr(pos, 2) != "*/") {
        if (text[pos] == '\n') ++line;
        ++pos;
      }
      pos += 2;
    } else {
      ++pos;
    }
  }
  return {};
}

Status IncludeChecker::vet(const std::string& written, const std::string& where, int depth) {
  // Named from where pop3d started, as the loader has libconfig read it,
  // whatever the current directory is by now (a SIGHUP after chdir("/")).
  const std::string path = absolute_from_start(written);
  const std::string what = where + ": @include \"" + written + "\"" +
                           (path == written ? std::string() : " (" + path + ")") + ": ";
  if (depth >= kMaxIncludeDepth) return {};  // libconfig refuses this nesting itself
  if (++files_ > kMaxIncludedFiles) {
    return Error{what + "more than " + std::to_string(kMaxIncludedFiles) + " included files"};
  }
  // Looked at before it is opened: opening a device can have effects of its
  // own. Looked at again once open, in case it was replaced meanwhile
  // (O_NONBLOCK: a FIFO slipped in then must not wait for a writer).
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Error{what + std::strerror(errno), errno};
  if (!S_ISREG(st.st_mode)) return Error{what + "not a regular file"};
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return Error{what + std::strerror(errno), errno};
  if (::fstat(fd.get(), &st) != 0) return Error{what + std::strerror(errno), errno};
  if (!S_ISREG(st.st_mode)) return Error{what + "not a regular file"};
  if (static_cast<unsigned long long>(st.st_size) > max_bytes_) {
    return Error{what + "larger than " + std::to_string(max_bytes_) + " bytes"};
  }
  // Read to the end, as libconfig will: some regular files (/proc/self/mem)
  // fail on read, and that too would end in exit().
  std::string content;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{what + std::strerror(errno), errno};
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
    if (content.size() > max_bytes_) {
      return Error{what + "larger than " + std::to_string(max_bytes_) + " bytes"};
    }
  }
  return check(content, path, depth + 1);
}

}  // namespace

Status check_includes(std::string_view text, const std::string& source_name, size_t max_bytes) {
  return IncludeChecker(max_bytes).check(text, source_name, 0);
}

}  // namespace pop3d
