#include "tls/tls_transport.hpp"

#include <openssl/err.h>
#include <poll.h>

#include "log/logger.hpp"
#include "net/socket_transport.hpp"

namespace pop3d {

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
}

// What to do after an SSL call returned `rc`: wait for the socket, or stop.
enum class Next { kRetry, kEof, kError };

Next after_ssl_call(SSL* ssl, int rc, int fd, Clock::time_point deadline, IoStatus& why,
                    WaitMode mode = WaitMode::kInterruptible) {
  switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
      why = wait_for(fd, POLLIN, left_until(deadline), mode);
      return why == IoStatus::kOk ? Next::kRetry : Next::kError;
    case SSL_ERROR_WANT_WRITE:
      why = wait_for(fd, POLLOUT, left_until(deadline), mode);
      return why == IoStatus::kOk ? Next::kRetry : Next::kError;
    case SSL_ERROR_ZERO_RETURN:
      why = IoStatus::kEof;
      return Next::kEof;
    case SSL_ERROR_SYSCALL:
      why = IoStatus::kEof;  // the peer went away without close_notify
      return Next::kEof;
    default:
      why = IoStatus::kError;
      return Next::kError;
  }
}

}  // namespace

Result<std::unique_ptr<TlsTransport>> TlsTransport::accept(const TlsContext& context, UniqueFd fd,
                                                           std::chrono::milliseconds timeout) {
  ERR_clear_error();
  SslPtr ssl(SSL_new(context.get()));
  if (!ssl) return Error{"SSL_new: " + openssl_errors()};
  if (SSL_set_fd(ssl.get(), fd.get()) != 1) return Error{"SSL_set_fd: " + openssl_errors()};
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const int rc = SSL_accept(ssl.get());
    if (rc == 1) break;
    IoStatus why = IoStatus::kError;
    const Next next = after_ssl_call(ssl.get(), rc, fd.get(), deadline, why);
    if (next == Next::kRetry) continue;
    // No farewell: without a finished handshake there is no channel for it.
    if (session_ended_from_outside()) return Error{"the session was told to end"};
    if (why == IoStatus::kTimeout) return Error{"TLS handshake timed out"};
    if (why == IoStatus::kEof && ERR_peek_error() == 0) {
      return Error{"client closed the connection during the TLS handshake"};
    }
    return Error{"TLS handshake failed: " + openssl_errors()};
  }
  return std::unique_ptr<TlsTransport>(new TlsTransport(std::move(fd), std::move(ssl)));
}

TlsTransport::~TlsTransport() {
  // A polite close_notify, without waiting for the peer's.
  if (ssl_) SSL_shutdown(ssl_.get());
}

IoResult TlsTransport::ended_from_outside(size_t done) {
  std::string_view line;
  std::chrono::milliseconds timeout{};
  if (take_farewell(line, timeout)) {
    const auto deadline = Clock::now() + timeout;
    size_t sent = 0;
    while (sent < line.size()) {
      ERR_clear_error();
      size_t wrote = 0;
      const int rc = SSL_write_ex(ssl_.get(), line.data() + sent, line.size() - sent, &wrote);
      if (rc == 1) {
        sent += wrote;
        continue;
      }
      IoStatus why = IoStatus::kError;
      if (after_ssl_call(ssl_.get(), rc, fd_.get(), deadline, why, WaitMode::kPlain) !=
          Next::kRetry) {
        break;
      }
    }
  }
  return {IoStatus::kError, done};
}

IoResult TlsTransport::read_some(char* buf, size_t len, std::chrono::milliseconds timeout) {
  if (session_ended_from_outside()) return {IoStatus::kError, 0};
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    ERR_clear_error();
    size_t got = 0;
    const int rc = SSL_read_ex(ssl_.get(), buf, len, &got);
    if (rc == 1) return {IoStatus::kOk, got};
    IoStatus why = IoStatus::kError;
    if (after_ssl_call(ssl_.get(), rc, fd_.get(), deadline, why) != Next::kRetry) {
      return session_ended_from_outside() ? ended_from_outside(0) : IoResult{why, 0};
    }
  }
}

IoResult TlsTransport::write_all(std::string_view data, std::chrono::milliseconds timeout) {
  if (session_ended_from_outside()) return {IoStatus::kError, 0};
  size_t done = 0;
  auto deadline = Clock::now() + timeout;
  while (done < data.size()) {
    ERR_clear_error();
    size_t wrote = 0;
    const int rc = SSL_write_ex(ssl_.get(), data.data() + done, data.size() - done, &wrote);
    if (rc == 1) {
      done += wrote;
      deadline = Clock::now() + timeout;  // progress restarts the clock
      continue;
    }
    IoStatus why = IoStatus::kError;
    if (after_ssl_call(ssl_.get(), rc, fd_.get(), deadline, why) != Next::kRetry) {
      return session_ended_from_outside() ? ended_from_outside(done) : IoResult{why, done};
    }
  }
  return {IoStatus::kOk, done};
}

std::unique_ptr<Transport> StlsUpgrader::upgrade(Transport& plain) {
  auto* socket = dynamic_cast<SocketTransport*>(&plain);
  if (socket == nullptr) return nullptr;
  auto tls = TlsTransport::accept(context_, socket->release_fd(), timeout_);
  if (!tls) {
    log_notice("tls: client=" + client_ + " STLS handshake failed: " + tls.error().message);
    return nullptr;
  }
  return std::move(*tls);
}

}  // namespace pop3d
