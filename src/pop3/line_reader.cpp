#include "pop3/line_reader.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

namespace pop3d {

LineReader::LineReader(size_t capacity)
    : buf_(std::make_unique_for_overwrite<char[]>(capacity)), capacity_(capacity) {}

LineReader::~LineReader() {
  OPENSSL_cleanse(buf_.get(), touched_);
}

void LineReader::wipe_consumed() {
  OPENSSL_cleanse(buf_.get(), start_);
  if (touched_ > end_) OPENSSL_cleanse(buf_.get() + end_, touched_ - end_);
  touched_ = end_;
}

bool LineReader::has_complete_line() const {
  return std::memchr(buf_.get() + start_ + scanned_, '\n', end_ - start_ - scanned_) != nullptr;
}

void LineReader::discard_buffered() {
  start_ = end_ = scanned_ = 0;
  discarding_ = false;
}

void LineReader::compact() {
  if (start_ == 0) return;
  std::memmove(buf_.get(), buf_.get() + start_, end_ - start_);
  end_ -= start_;
  start_ = 0;
}

LineReader::Line LineReader::next(Transport& transport, size_t max_line,
                                  Clock::time_point deadline) {
  if (max_line > capacity_) max_line = capacity_;
  while (true) {
    char* begin = buf_.get() + start_;
    const size_t avail = end_ - start_;
    auto* nl = static_cast<char*>(std::memchr(begin + scanned_, '\n', avail - scanned_));
    if (nl != nullptr) {
      const size_t with_lf = static_cast<size_t>(nl - begin) + 1;
      start_ += with_lf;
      scanned_ = 0;
      if (start_ == end_) start_ = end_ = 0;
      if (discarding_) {
        discarding_ = false;
        return {Status::kTooLong, {}};
      }
      size_t len = with_lf - 1;
      if (len > 0 && begin[len - 1] == '\r') --len;
      // The limit counts a CRLF whatever the client used, so a bare-LF
      // client gets the same line length as everyone else.
      if (len + 2 > max_line) return {Status::kTooLong, {}};
      return {Status::kLine, std::string_view(begin, len)};
    }

    scanned_ = avail;
    if (discarding_ || avail + 1 > max_line) {
      // No newline within the limit: this line can only be refused. Keep
      // nothing of it; wait for its end.
      discarding_ = true;
      start_ = end_ = scanned_ = 0;
    } else {
      // What is left is part of one line, shorter than the limit: moving it
      // to the front is cheap and gives every read the most room.
      compact();
    }

    const auto now = Clock::now();
    if (now >= deadline) return {Status::kTimeout, {}};
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    const IoResult r = transport.read_some(buf_.get() + end_, capacity_ - end_, wait);
    switch (r.status) {
      case IoStatus::kOk:
        end_ += r.bytes;
        touched_ = std::max(touched_, end_);
        break;
      case IoStatus::kEof:
        return {Status::kEof, {}};
      case IoStatus::kTimeout:
        return {Status::kTimeout, {}};
      case IoStatus::kError:
        return {Status::kError, {}};
    }
  }
}

}  // namespace pop3d
