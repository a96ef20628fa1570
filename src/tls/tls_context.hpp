// TlsContext: the server's TLS configuration, built by the master before it
// drops privileges (so a key readable by root alone works) and before it
// forks (so every worker shares the same session-ticket keys, and a client
// resumes its session on whichever worker it reaches next).
#pragma once

#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "util/result.hpp"

namespace pop3d {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

class TlsContext {
 public:
  // Loads every configured certificate (pop3.certificate is the default;
  // the others answer SNI for their names). `warnings` collects what is
  // worth saying but not refusing (an expired certificate, legacy mode).
  static Result<std::shared_ptr<TlsContext>> create(const Settings& settings,
                                                    std::vector<std::string>& warnings);

  SSL_CTX* get() const { return default_.get(); }

  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  ~TlsContext();

 private:
  TlsContext() = default;
  static int on_server_name(SSL* ssl, int* alert, void* arg);

  SslCtxPtr default_;
  // SNI: certificate names (CN and DNS subjectAltNames) to their contexts.
  std::vector<SslCtxPtr> others_;
  std::map<std::string, SSL_CTX*> by_name_;
};

// The text of OpenSSL's error queue (and clears it), for log lines.
std::string openssl_errors();

}  // namespace pop3d
