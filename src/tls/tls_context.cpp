#include "tls/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace pop3d {

namespace {

// Modern: TLS 1.2 with forward-secret AEAD suites only; TLS 1.3 suites are
// all acceptable and left at OpenSSL's defaults.
constexpr const char* kModernCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// Legacy ("SSL version 2/3 mode"): whatever the library can still speak,
// for mail clients that predate TLS 1.2, except suites that authenticate
// nobody (aNULL: any man in the middle can pose as the server) or encrypt
// nothing (eNULL): over either, a password is as good as sent in the clear.
constexpr const char* kLegacyCiphers = "ALL:!aNULL:!eNULL:@SECLEVEL=0";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

// The names a certificate answers to: its DNS subjectAltNames, or its CN.
std::vector<std::string> certificate_names(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type != GEN_DNS) continue;
      const auto* s = name->d.dNSName;
      names.push_back(lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                        static_cast<size_t>(ASN1_STRING_length(s)))));
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0) {
      names.push_back(lower(cn));
    }
  }
  return names;
}

Result<SslCtxPtr> make_context(const std::string& name, const CertificateSettings& cert,
                               bool legacy, std::vector<std::string>& warnings) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Error{"cannot create a TLS context: " + openssl_errors()};
  const std::string where = "certificates." + name;
  if (cert.cert_file.empty()) return Error{where + ".cert_file is not set"};
  if (cert.key_file.empty()) return Error{where + ".key_file is not set"};
  // Plain reasons for the common mistakes, before OpenSSL's error codes.
  for (const auto& [setting, path] :
       {std::pair{".cert_file", &cert.cert_file}, std::pair{".key_file", &cert.key_file}}) {
    if (::access(path->c_str(), R_OK) != 0) {
      return Error::from_errno(where + setting + ": cannot read " + *path);
    }
  }
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.cert_file.c_str()) != 1) {
    return Error{where + ".cert_file: cannot load " + cert.cert_file + ": " + openssl_errors()};
  }
  const bool key_loaded =
      SSL_CTX_use_PrivateKey_file(ctx.get(), cert.key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  const bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
  if (!key_loaded && !mismatch) {
    return Error{where + ".key_file: cannot load " + cert.key_file + ": " + openssl_errors()};
  }
  if (mismatch || SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    return Error{where + ": the key in " + cert.key_file + " does not match the certificate in " +
                 cert.cert_file};
  }
  X509* leaf = SSL_CTX_get0_certificate(ctx.get());
  if (leaf && X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
    warnings.push_back(where + ": the certificate in " + cert.cert_file +
                       " has expired; clients will warn or refuse");
  }
  if (legacy) {
    SSL_CTX_set_security_level(ctx.get(), 0);
#ifndef OPENSSL_NO_SSL3_METHOD
    SSL_CTX_set_min_proto_version(ctx.get(), SSL3_VERSION);
#else
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION);
#endif
    if (SSL_CTX_set_cipher_list(ctx.get(), kLegacyCiphers) != 1) {
      return Error{"pop3.legacy_ssl: cannot set the cipher list: " + openssl_errors()};
    }
  } else {
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    if (SSL_CTX_set_cipher_list(ctx.get(), kModernCiphers) != 1) {
      return Error{"cannot set the cipher list: " + openssl_errors()};
    }
  }
  // Our order, not the client's: an old client lists its weakest suites
  // first, and legacy mode offers many of them.
  SSL_CTX_set_options(ctx.get(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  // No renegotiation (a DoS lever), no compression (CRIME). Stateless
  // tickets carry resumption; the keys were made by SSL_CTX_new in the
  // master, so every forked worker can open every other worker's tickets.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  static const unsigned char kSessionContext[] = "pop3d";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

}  // namespace

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown error" : out;
}

Result<std::shared_ptr<TlsContext>> TlsContext::create(const Settings& settings,
                                                       std::vector<std::string>& warnings) {
  const bool legacy = settings.pop3.legacy_ssl;
  auto it = settings.certificates.find(settings.pop3.certificate);
  if (it == settings.certificates.end()) {
    return Error{"pop3.certificate: no certificate named '" + settings.pop3.certificate +
                 "' under certificates"};
  }
  std::shared_ptr<TlsContext> tls(new TlsContext());
  auto main = make_context(it->first, it->second, legacy, warnings);
  if (!main) return main.error();
  tls->default_ = std::move(*main);
  for (const auto& [name, cert] : settings.certificates) {
    if (name == settings.pop3.certificate) continue;
    auto other = make_context(name, cert, legacy, warnings);
    if (!other) return other.error();
    for (const auto& dns : certificate_names(SSL_CTX_get0_certificate(other->get()))) {
      tls->by_name_.emplace(dns, other->get());
    }
    tls->others_.push_back(std::move(*other));
  }
  if (!tls->by_name_.empty()) {
    SSL_CTX_set_tlsext_servername_callback(tls->default_.get(), &TlsContext::on_server_name);
    SSL_CTX_set_tlsext_servername_arg(tls->default_.get(), tls.get());
  }
  if (legacy) {
    warnings.push_back(
        "pop3.legacy_ssl: offering TLS 1.0 and 1.1 with every authenticated, encrypting "
        "cipher at security level 0"
#ifndef OPENSSL_NO_SSL3_METHOD
        " and SSLv3"
#endif
        "; SSLv2 cannot be offered: OpenSSL 1.1 and later do not implement it");
  }
  return tls;
}

TlsContext::~TlsContext() = default;

int TlsContext::on_server_name(SSL* ssl, int* /*alert*/, void* arg) {
  const auto* self = static_cast<const TlsContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_NOACK;
  std::string wanted = lower(name);
  auto it = self->by_name_.find(wanted);
  if (it == self->by_name_.end()) {
    // "*.example.org" answers "mail.example.org".
    const auto dot = wanted.find('.');
    if (dot != std::string::npos) it = self->by_name_.find("*" + wanted.substr(dot));
  }
  if (it != self->by_name_.end()) SSL_set_SSL_CTX(ssl, it->second);
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace pop3d
