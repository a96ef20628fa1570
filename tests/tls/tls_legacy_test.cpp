// pop3.legacy_ssl widens the protocol versions and ciphers for old mail
// clients; these tests pin what it must still never do: offer a suite that
// authenticates nobody or encrypts nothing, or let the client's order pick
// the suite.
#include <cppunit/extensions/HelperMacros.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tls/tls_context.hpp"

namespace pop3d {

namespace {

// A self-signed RSA pair: RSA so that the widest range of legacy suites
// (plain RSA key exchange included) is possible with it.
void write_rsa_pair(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
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

class TlsLegacyTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(TlsLegacyTest);
  CPPUNIT_TEST(legacy_offers_no_anonymous_suite);
  CPPUNIT_TEST(legacy_offers_no_null_encryption);
  CPPUNIT_TEST(legacy_still_offers_old_cbc_suites);
  CPPUNIT_TEST(legacy_prefers_the_server_order);
  CPPUNIT_TEST(modern_prefers_the_server_order);
  CPPUNIT_TEST_SUITE_END();

  std::string dir_;
  Settings settings_;
  std::shared_ptr<TlsContext> tls_;

  SSL_CTX* build(bool legacy) {
    settings_.pop3.legacy_ssl = legacy;
    std::vector<std::string> warnings;
    auto tls = TlsContext::create(settings_, warnings);
    CPPUNIT_ASSERT_MESSAGE(tls.ok() ? "" : tls.error().message, tls.ok());
    tls_ = *tls;
    return tls_->get();
  }

  // The suites a handshake on this context could pick: what the context
  // offers, as a server would see it on a connection.
  static std::vector<const SSL_CIPHER*> offered(SSL_CTX* ctx) {
    std::vector<const SSL_CIPHER*> out;
    STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(ctx);
    for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i) out.push_back(sk_SSL_CIPHER_value(list, i));
    return out;
  }

 public:
  void setUp() override {
    char tmpl[] = "/tmp/pop3d-tls-legacy-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    write_rsa_pair(dir_ + "/rsa.pem", dir_ + "/rsa.key");
    settings_.certificates["default"] = {dir_ + "/rsa.pem", dir_ + "/rsa.key"};
  }
  void tearDown() override {
    tls_.reset();
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  void legacy_offers_no_anonymous_suite() {
    const auto suites = offered(build(true));
    CPPUNIT_ASSERT(!suites.empty());
    for (const SSL_CIPHER* c : suites) {
      CPPUNIT_ASSERT_MESSAGE(std::string("anonymous suite offered: ") + SSL_CIPHER_get_name(c),
                             SSL_CIPHER_get_auth_nid(c) != NID_auth_null);
    }
  }

  void legacy_offers_no_null_encryption() {
    for (const SSL_CIPHER* c : offered(build(true))) {
      CPPUNIT_ASSERT_MESSAGE(
          std::string("null-encryption suite offered: ") + SSL_CIPHER_get_name(c),
          SSL_CIPHER_get_cipher_nid(c) != NID_undef);
    }
  }

  // The point of legacy mode: a TLS 1.0 client's CBC suites remain.
  void legacy_still_offers_old_cbc_suites() {
    bool found = false;
    for (const SSL_CIPHER* c : offered(build(true))) {
      if (std::string(SSL_CIPHER_get_name(c)) == "ECDHE-RSA-AES128-SHA") found = true;
    }
    CPPUNIT_ASSERT_MESSAGE("ECDHE-RSA-AES128-SHA (TLS 1.0) is not offered in legacy mode", found);
  }

  void legacy_prefers_the_server_order() {
    CPPUNIT_ASSERT((SSL_CTX_get_options(build(true)) & SSL_OP_CIPHER_SERVER_PREFERENCE) != 0);
  }

  void modern_prefers_the_server_order() {
    CPPUNIT_ASSERT((SSL_CTX_get_options(build(false)) & SSL_OP_CIPHER_SERVER_PREFERENCE) != 0);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TlsLegacyTest);

}  // namespace pop3d
