#include "pop3/message_encoder.hpp"

#include <cstring>

namespace pop3d {

void MessageEncoder::encode(std::string_view in, std::string& out) {
  const char* p = in.data();
  const char* const end = in.data() + in.size();
  while (p < end && !done_) {
    if (line_bytes_ == 0 && *p == '.') out.push_back('.');  // stuffing, not counted

    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* const stop = nl != nullptr ? nl : end;
    const auto n = static_cast<size_t>(stop - p);
    if (n > 0) {
      out.append(p, n);
      octets_ += n;
      line_bytes_ += n;
      prev_cr_ = stop[-1] == '\r';
    }
    if (nl == nullptr) return;
    end_line(out);
    p = nl + 1;
  }
}

void MessageEncoder::end_line(std::string& out) {
  if (prev_cr_) {
    out.push_back('\n');
    octets_ += 1;
  } else {
    out.append("\r\n");
    octets_ += 2;
  }
  const bool blank = line_bytes_ == 0 || (line_bytes_ == 1 && prev_cr_);
  line_bytes_ = 0;
  prev_cr_ = false;
  if (body_line_limit_ == kUnlimited) return;
  if (in_header_) {
    if (blank) {
      in_header_ = false;
      done_ = body_line_limit_ == 0;
    }
  } else if (++body_lines_ >= body_line_limit_) {
    done_ = true;
  }
}

void MessageEncoder::finish(std::string& out) {
  if (line_bytes_ > 0) {
    out.append("\r\n");
    octets_ += 2;
    line_bytes_ = 0;
    prev_cr_ = false;
  }
  out.append(".\r\n");
}

}  // namespace pop3d
