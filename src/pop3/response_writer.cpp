#include "pop3/response_writer.hpp"

#include "pop3/limits.hpp"

namespace pop3d {

void ResponseWriter::status_line(std::string_view tag, std::string_view text, bool always_space) {
  buf_.append(tag);
  if (!text.empty() || always_space) buf_.push_back(' ');
  buf_.append(text);
  buf_.append("\r\n");
}

void ResponseWriter::line(std::string_view text) {
  buf_.append(text);
  buf_.append("\r\n");
}

bool ResponseWriter::flush_if_full() {
  if (buf_.size() < pop3_limits::kOutputFlushThreshold) return !failed();
  return flush();
}

bool ResponseWriter::flush() {
  if (failed()) {
    buf_.clear();
    return false;
  }
  if (buf_.empty()) return true;
  const IoResult r = transport_->write_all(buf_, write_timeout_);
  buf_.clear();
  if (r.status != IoStatus::kOk) {
    failure_ = r.status;
    return false;
  }
  return true;
}

}  // namespace pop3d
