#include "pop3/message_encoder.hpp"

#include <cstring>

namespace pop3d {

void MessageEncoder::encode(std::string_view in, std::string& out) {
  const size_t old = out.size();
  out.resize(old + max_output(in.size()));
  out.resize(old + encode_to(in, out.data() + old));
}

size_t MessageEncoder::encode_to(std::string_view in, char* const out) {
  const char* p = in.data();
  const char* const end = in.data() + in.size();
  char* o = out;
  while (p < end && !done_) {
    if (line_bytes_ == 0 && *p == '.') {
      *o++ = '.';  // stuffing, not counted
      unchanged_ = false;
    }

    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* const stop = nl != nullptr ? nl : end;
    const auto n = static_cast<size_t>(stop - p);
    if (n > 0) {
      std::memcpy(o, p, n);
      o += n;
      octets_ += n;
      line_bytes_ += n;
      prev_cr_ = stop[-1] == '\r';
    }
    if (nl == nullptr) break;
    o += end_line(o);
    p = nl + 1;
  }
  return static_cast<size_t>(o - out);
}

size_t MessageEncoder::end_line(char* out) {
  size_t written;
  if (prev_cr_) {
    out[0] = '\n';
    written = 1;
  } else {
    out[0] = '\r';
    out[1] = '\n';
    written = 2;
    unchanged_ = false;
  }
  octets_ += written;
  const bool blank = line_bytes_ == 0 || (line_bytes_ == 1 && prev_cr_);
  line_bytes_ = 0;
  prev_cr_ = false;
  if (body_line_limit_ == kUnlimited) return written;
  if (in_header_) {
    if (blank) {
      in_header_ = false;
      done_ = body_line_limit_ == 0;
    }
  } else if (++body_lines_ >= body_line_limit_) {
    done_ = true;
  }
  return written;
}

void MessageEncoder::finish(std::string& out) {
  if (line_bytes_ > 0) {
    out.append("\r\n");
    octets_ += 2;
    line_bytes_ = 0;
    prev_cr_ = false;
    unchanged_ = false;
  }
  out.append(".\r\n");
}

}  // namespace pop3d
