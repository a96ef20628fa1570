// TlsTransport: a Transport that speaks TLS over a non-blocking socket. The
// handshake and every read and write are bounded by a time-out, so a
// client that stalls mid-handshake cannot hold a worker.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>

#include "net/transport.hpp"
#include "pop3/session.hpp"
#include "tls/tls_context.hpp"
#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

class TlsTransport : public Transport {
 public:
  // Runs the server handshake on `fd` within `timeout`. The error says why
  // it failed, for the log line with the client's address.
  static Result<std::unique_ptr<TlsTransport>> accept(const TlsContext& context, UniqueFd fd,
                                                      std::chrono::milliseconds timeout);
  ~TlsTransport() override;

  IoResult read_some(char* buf, size_t len, std::chrono::milliseconds timeout) override;
  IoResult write_all(std::string_view data, std::chrono::milliseconds timeout) override;
  bool has_buffered_input() const override { return SSL_pending(ssl_.get()) > 0; }
  bool is_tls() const override { return true; }

  std::string protocol() const { return SSL_get_version(ssl_.get()); }
  bool session_reused() const { return SSL_session_reused(ssl_.get()) == 1; }

 private:
  TlsTransport(UniqueFd fd, SslPtr ssl) : fd_(std::move(fd)), ssl_(std::move(ssl)) {}
  // Told to end from outside (see WaitInterrupt): the farewell, then kError.
  IoResult ended_from_outside(size_t done);
  UniqueFd fd_;  // declared first: the SSL object goes before its socket
  SslPtr ssl_;
};

// STLS: takes the socket over from the plain transport and runs the
// handshake. Logs a failed handshake with the client address and reason.
class StlsUpgrader : public TlsUpgrader {
 public:
  StlsUpgrader(const TlsContext& context, std::string client, std::chrono::milliseconds timeout)
      : context_(context), client_(std::move(client)), timeout_(timeout) {}
  std::unique_ptr<Transport> upgrade(Transport& plain) override;

 private:
  const TlsContext& context_;
  std::string client_;
  std::chrono::milliseconds timeout_;
};

}  // namespace pop3d
