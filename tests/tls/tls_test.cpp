#include <cppunit/extensions/HelperMacros.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <fcntl.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "tls/tls_transport.hpp"

namespace pop3d {

namespace {

// Writes a self-signed EC certificate whose validity is shifted by
// `not_after_seconds` from now (negative: already expired).
void write_cert(const std::string& cert_path, const std::string& key_path, long not_after_seconds,
                const char* cn = "localhost") {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -7200);
  X509_gmtime_adj(X509_getm_notAfter(x), not_after_seconds);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  FILE* f = std::fopen(cert_path.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

}  // namespace

class TlsTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(TlsTest);
  CPPUNIT_TEST(loads_matching_pair);
  CPPUNIT_TEST(missing_file_names_the_setting);
  CPPUNIT_TEST(mismatched_key_is_refused);
  CPPUNIT_TEST(expired_certificate_only_warns);
  CPPUNIT_TEST(unknown_certificate_name_is_refused);
  CPPUNIT_TEST(legacy_mode_says_sslv2_is_impossible);
  CPPUNIT_TEST(handshake_and_data_over_socketpair);
  CPPUNIT_TEST(stalled_handshake_times_out);
  CPPUNIT_TEST(sni_picks_the_named_certificate);
  CPPUNIT_TEST_SUITE_END();

  std::string dir_;
  Settings settings_;

 public:
  void setUp() override {
    char tmpl[] = "/tmp/pop3d-tls-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    write_cert(dir_ + "/good.pem", dir_ + "/good.key", 86400);
    write_cert(dir_ + "/other.pem", dir_ + "/other.key", 86400, "mail.example.org");
    settings_.certificates["default"] = {dir_ + "/good.pem", dir_ + "/good.key"};
  }
  void tearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  void loads_matching_pair() {
    std::vector<std::string> warnings;
    auto tls = TlsContext::create(settings_, warnings);
    CPPUNIT_ASSERT_MESSAGE(tls.ok() ? "" : tls.error().message, tls.ok());
    CPPUNIT_ASSERT(warnings.empty());
    CPPUNIT_ASSERT_EQUAL(static_cast<long>(TLS1_2_VERSION),
                         SSL_CTX_get_min_proto_version((*tls)->get()));
  }

  void missing_file_names_the_setting() {
    settings_.certificates["default"].key_file = dir_ + "/nope.key";
    std::vector<std::string> warnings;
    auto tls = TlsContext::create(settings_, warnings);
    CPPUNIT_ASSERT(!tls.ok());
    CPPUNIT_ASSERT(tls.error().message.find("certificates.default.key_file") != std::string::npos);
    CPPUNIT_ASSERT(tls.error().message.find("nope.key") != std::string::npos);
  }

  void mismatched_key_is_refused() {
    settings_.certificates["default"].key_file = dir_ + "/other.key";
    std::vector<std::string> warnings;
    auto tls = TlsContext::create(settings_, warnings);
    CPPUNIT_ASSERT(!tls.ok());
    CPPUNIT_ASSERT(tls.error().message.find("does not match") != std::string::npos);
  }

  void expired_certificate_only_warns() {
    write_cert(dir_ + "/old.pem", dir_ + "/old.key", -3600);
    settings_.certificates["default"] = {dir_ + "/old.pem", dir_ + "/old.key"};
    std::vector<std::string> warnings;
    auto tls = TlsContext::create(settings_, warnings);
    CPPUNIT_ASSERT(tls.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{1}, warnings.size());
    CPPUNIT_ASSERT(warnings[0].find("expired") != std::string::npos);
  }

  void unknown_certificate_name_is_refused() {
    settings_.pop3.certificate = "mail";
    std::vector<std::string> warnings;
    auto tls = TlsContext::create(settings_, warnings);
    CPPUNIT_ASSERT(!tls.ok());
    CPPUNIT_ASSERT(tls.error().message.find("'mail'") != std::string::npos);
  }

  void legacy_mode_says_sslv2_is_impossible() {
    settings_.pop3.legacy_ssl = true;
    std::vector<std::string> warnings;
    auto tls = TlsContext::create(settings_, warnings);
    CPPUNIT_ASSERT(tls.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{1}, warnings.size());
    CPPUNIT_ASSERT(warnings[0].find("SSLv2 cannot be offered") != std::string::npos);
    CPPUNIT_ASSERT(SSL_CTX_get_min_proto_version((*tls)->get()) <= TLS1_VERSION);
  }

  void handshake_and_data_over_socketpair() {
    std::vector<std::string> warnings;
    auto tls = TlsContext::create(settings_, warnings);
    CPPUNIT_ASSERT(tls.ok());
    int pair[2];
    CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair));
    UniqueFd client_fd(pair[1]);
    std::string client_got;
    std::thread client([&] {
      SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
      SSL* ssl = SSL_new(ctx);
      int flags = ::fcntl(client_fd.get(), F_GETFL);
      ::fcntl(client_fd.get(), F_SETFL, flags & ~O_NONBLOCK);
      SSL_set_fd(ssl, client_fd.get());
      if (SSL_connect(ssl) == 1) {
        SSL_write(ssl, "CAPA\r\n", 6);
        char buf[64];
        const int n = SSL_read(ssl, buf, sizeof buf);
        if (n > 0) client_got.assign(buf, static_cast<size_t>(n));
      }
      SSL_free(ssl);
      SSL_CTX_free(ctx);
    });
    auto server = TlsTransport::accept(**tls, UniqueFd(pair[0]), std::chrono::seconds(5));
    CPPUNIT_ASSERT_MESSAGE(server.ok() ? "" : server.error().message, server.ok());
    char buf[64];
    auto got = (*server)->read_some(buf, sizeof buf, std::chrono::seconds(5));
    CPPUNIT_ASSERT(got.status == IoStatus::kOk);
    CPPUNIT_ASSERT_EQUAL(std::string("CAPA\r\n"), std::string(buf, got.bytes));
    CPPUNIT_ASSERT((*server)->write_all("+OK\r\n", std::chrono::seconds(5)).status ==
                   IoStatus::kOk);
    client.join();
    CPPUNIT_ASSERT_EQUAL(std::string("+OK\r\n"), client_got);
    CPPUNIT_ASSERT((*server)->is_tls());
  }

  // Runs a client handshake asking for `server_name` (none when empty) and
  // returns the CN of the certificate the server presented.
  std::string presented_cn(const TlsContext& tls, const std::string& server_name) {
    int pair[2];
    CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair));
    UniqueFd client_fd(pair[1]);
    std::string cn;
    std::thread client([&] {
      SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
      SSL* ssl = SSL_new(ctx);
      ::fcntl(client_fd.get(), F_SETFL, ::fcntl(client_fd.get(), F_GETFL) & ~O_NONBLOCK);
      SSL_set_fd(ssl, client_fd.get());
      if (!server_name.empty()) SSL_set_tlsext_host_name(ssl, server_name.c_str());
      if (SSL_connect(ssl) == 1) {
        X509* peer = SSL_get1_peer_certificate(ssl);
        char buf[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof buf);
        cn = buf;
        X509_free(peer);
      }
      SSL_free(ssl);
      SSL_CTX_free(ctx);
    });
    auto server = TlsTransport::accept(tls, UniqueFd(pair[0]), std::chrono::seconds(5));
    client.join();
    CPPUNIT_ASSERT(server.ok());
    return cn;
  }

  void sni_picks_the_named_certificate() {
    settings_.certificates["mail"] = {dir_ + "/other.pem", dir_ + "/other.key"};
    std::vector<std::string> warnings;
    auto tls = TlsContext::create(settings_, warnings);
    CPPUNIT_ASSERT_MESSAGE(tls.ok() ? "" : tls.error().message, tls.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("localhost"), presented_cn(**tls, ""));
    CPPUNIT_ASSERT_EQUAL(std::string("mail.example.org"), presented_cn(**tls, "mail.example.org"));
    CPPUNIT_ASSERT_EQUAL(std::string("mail.example.org"), presented_cn(**tls, "MAIL.Example.org"));
    CPPUNIT_ASSERT_EQUAL(std::string("localhost"), presented_cn(**tls, "other.example.org"));
  }

  void stalled_handshake_times_out() {
    std::vector<std::string> warnings;
    auto tls = TlsContext::create(settings_, warnings);
    int pair[2];
    CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair));
    UniqueFd client_fd(pair[1]);  // never says a word
    auto server = TlsTransport::accept(**tls, UniqueFd(pair[0]), std::chrono::milliseconds(200));
    CPPUNIT_ASSERT(!server.ok());
    CPPUNIT_ASSERT(server.error().message.find("timed out") != std::string::npos);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TlsTest);

}  // namespace pop3d
