#include "mailstore/crlf_size.hpp"

#include <cstring>

namespace pop3d {

uint64_t crlf_size(const char* data, size_t len, CrlfState& state) {
  if (len == 0) return 0;
  uint64_t extra = 0;
  const char* p = data;
  const char* end = data + len;
  // memchr keeps the common case (long lines) at memory speed; the per-line
  // work is only the checks at line starts and before each LF.
  while (p < end) {
    if (state.line_start && *p == '.') state.dot_line = true;
    const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (lf == nullptr) {
      state.prev_cr = end[-1] == '\r';
      state.line_start = false;
      break;
    }
    const bool cr_before = lf > data ? lf[-1] == '\r' : state.prev_cr;
    if (!cr_before) {
      ++extra;
      state.bare_lf = true;
    }
    state.prev_cr = false;
    state.line_start = true;
    p = lf + 1;
  }
  state.seen_any = true;
  return len + extra;
}

uint64_t crlf_tail(const CrlfState& state) {
  return state.seen_any && !state.line_start ? 2 : 0;
}

bool crlf_plain_sendable(const CrlfState& state) {
  return !state.bare_lf && !state.dot_line && crlf_tail(state) == 0;
}

}  // namespace pop3d
