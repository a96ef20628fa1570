// MemoryTransport: a Transport over scripted input and recorded output, for
// session tests. Input comes as chunks (each read returns at most one
// chunk, as a socket returns what one packet brought), with time-outs,
// errors and EOF where the script puts them; the script and the record live
// in a MemoryPipe the test keeps after the session has consumed the
// transport.
#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <string>

#include <unistd.h>

#include "net/transport.hpp"

namespace pop3d {

struct MemoryPipe {
  enum class Kind { kData, kTimeout, kEof, kError };
  struct Event {
    Kind kind;
    std::string data;
  };

  void send(std::string chunk) { input.push_back({Kind::kData, std::move(chunk)}); }
  void timeout() { input.push_back({Kind::kTimeout, {}}); }
  void error() { input.push_back({Kind::kError, {}}); }
  void eof() { input.push_back({Kind::kEof, {}}); }

  std::deque<Event> input;  // when empty, reads see EOF
  std::string output;
  size_t reads = 0;
  size_t writes = 0;
  bool sendfile = false;                  // send_file works (a plain socket) instead of declining
  size_t sendfiles = 0;                   // send_file calls that sent
  IoStatus write_status = IoStatus::kOk;  // what write_all reports...
  size_t failing_from_write = 0;          // ...from this write on (1-based; 0: all)
};

class MemoryTransport : public Transport {
 public:
  explicit MemoryTransport(std::shared_ptr<MemoryPipe> pipe, bool tls = false)
      : pipe_(std::move(pipe)), tls_(tls) {}

  IoResult read_some(char* buf, size_t len, std::chrono::milliseconds) override {
    ++pipe_->reads;
    if (pipe_->input.empty()) return {IoStatus::kEof};
    MemoryPipe::Event& ev = pipe_->input.front();
    switch (ev.kind) {
      case MemoryPipe::Kind::kData: {
        const size_t n = std::min(len, ev.data.size());
        std::memcpy(buf, ev.data.data(), n);
        ev.data.erase(0, n);
        if (ev.data.empty()) pipe_->input.pop_front();
        return {IoStatus::kOk, n};
      }
      case MemoryPipe::Kind::kTimeout:
        pipe_->input.pop_front();
        return {IoStatus::kTimeout};
      case MemoryPipe::Kind::kError:
        return {IoStatus::kError};
      case MemoryPipe::Kind::kEof:
        return {IoStatus::kEof};
    }
    return {IoStatus::kError};
  }

  IoResult write_all(std::string_view data, std::chrono::milliseconds) override {
    ++pipe_->writes;
    if (pipe_->write_status != IoStatus::kOk && pipe_->writes >= pipe_->failing_from_write) {
      return {pipe_->write_status};
    }
    pipe_->output.append(data);
    return {IoStatus::kOk, data.size()};
  }

  bool is_tls() const override { return tls_; }

  // Like sendfile(2): the file's bytes from `offset`, as they are.
  std::optional<IoResult> send_file(int fd, off_t offset, size_t len,
                                    std::chrono::milliseconds) override {
    if (!pipe_->sendfile || tls_) return std::nullopt;
    ++pipe_->sendfiles;
    std::string data(len, '\0');
    size_t got = 0;
    while (got < len) {
      const ssize_t n = ::pread(fd, data.data() + got, len - got, offset + static_cast<off_t>(got));
      if (n < 0) return IoResult{IoStatus::kError, 0};
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    data.resize(got);
    const IoResult r = write_all(data, {});
    return r;
  }

 private:
  std::shared_ptr<MemoryPipe> pipe_;
  bool tls_;
};

}  // namespace pop3d
