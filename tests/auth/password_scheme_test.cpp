#include <cppunit/extensions/HelperMacros.h>

#include <crypt.h>

#include <memory>
#include <string>

#include "auth/password_scheme.hpp"

namespace pop3d {

namespace {

// Made with `openssl passwd -1/-5/-6 -salt saltsalt secretN`, so the
// checks here do not depend on our own hashing code.
constexpr const char* kMd5Crypt = "$1$saltsalt$2HM3oGhH6VPi/5dxZ798f/";
constexpr const char* kSha256Crypt = "$5$saltsalt$708Qd1GA5FblAgceNooXo6mCmXw7DIUSz5IHtzs/2E6";
constexpr const char* kSha512Crypt =
    "$6$saltsalt$LMtDgChSrV.wGnnrAr7LXtxT9OYdesYYRBi0J7VAO0UoNpOTX5uxqMPmQ0Gkk2HMqd/"
    "t1jYDOamm5q1ro0ZhX/";
// Python hashlib, password "hunter2"; the salted ones with salt 01 02 03 04.
constexpr const char* kSha256B64 = "9S+9MrKzuG/4jvbEkGKChfSCrxXdyylUH5S89Saj9sc=";
constexpr const char* kSha256Hex =
    "f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7";
constexpr const char* kSha512B64 =
    "a5ftaNFOs/GqlZzl1Jx9xhLh6x2v1zsecFhHSD/WpsgJ8s606N9v+ZhMYpj/AoXKzmYUv42qnwBwEBtsiYmeIg==";
constexpr const char* kSsha256 = "7CUsO2xz2WNOqF7e47b7V+CgHodDT/9RhidEhdiQnzMBAgME";
constexpr const char* kSsha512 =
    "qDCzG5C1JIaTEoXy4qJy1+KIulwEXc3a9AXrm9JVHKRhgjsjLj09vLbhDGahoKsvubHayx5xd5KOt/a/"
    "5Aw59QECAwQ=";

std::string s(const char* prefix, const char* body) {
  return std::string(prefix) + body;
}

// A bcrypt hash made by libcrypt directly (cost 4 keeps the test fast).
std::string bcrypt_of(const char* password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  CPPUNIT_ASSERT(crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof salt) != nullptr);
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password, salt, data.get(), sizeof(crypt_data));
  CPPUNIT_ASSERT(out != nullptr);
  return out;
}

}  // namespace

class PasswordSchemeTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(PasswordSchemeTest);
  CPPUNIT_TEST(plain_and_cleartext);
  CPPUNIT_TEST(crypt_family_known_vectors);
  CPPUNIT_TEST(bare_crypt_string_is_crypt);
  CPPUNIT_TEST(blowfish_2b_and_2y);
  CPPUNIT_TEST(crypt_scheme_must_fit_its_body);
  CPPUNIT_TEST(digest_schemes_known_vectors);
  CPPUNIT_TEST(unknown_or_broken_schemes_never_match);
  CPPUNIT_TEST(nul_in_password_is_refused);
  CPPUNIT_TEST(constant_time_equal_is_equality);
  CPPUNIT_TEST(hash_password_round_trips);
  CPPUNIT_TEST(hash_password_salts_are_random);
  CPPUNIT_TEST(hash_password_unknown_scheme_is_empty);
  CPPUNIT_TEST(apop_rfc1939_example);
  CPPUNIT_TEST(apop_needs_plaintext);
  CPPUNIT_TEST(cost_classes_follow_algorithm_and_cost);
  CPPUNIT_TEST_SUITE_END();

 public:
  void plain_and_cleartext() {
    CPPUNIT_ASSERT(verify_password("{PLAIN}s3cret", "s3cret"));
    CPPUNIT_ASSERT(!verify_password("{PLAIN}s3cret", "s3cre"));
    CPPUNIT_ASSERT(!verify_password("{PLAIN}s3cret", "s3crett"));
    CPPUNIT_ASSERT(!verify_password("{PLAIN}s3cret", "S3cret"));
    CPPUNIT_ASSERT(verify_password("{CLEARTEXT}pa:ss", "pa:ss"));
    CPPUNIT_ASSERT(verify_password("{plain}lower", "lower"));
    CPPUNIT_ASSERT(is_plaintext_recoverable("{PLAIN}x"));
    CPPUNIT_ASSERT(is_plaintext_recoverable("{CLEARTEXT}x"));
    CPPUNIT_ASSERT(!is_plaintext_recoverable(s("{SHA512-CRYPT}", kSha512Crypt)));
    CPPUNIT_ASSERT_EQUAL(std::string("tanstaaf"), std::string(plaintext_secret("{PLAIN}tanstaaf")));
    CPPUNIT_ASSERT(plaintext_secret(kSha512Crypt).empty());
  }

  void crypt_family_known_vectors() {
    CPPUNIT_ASSERT(verify_password(s("{MD5-CRYPT}", kMd5Crypt), "secret1"));
    CPPUNIT_ASSERT(!verify_password(s("{MD5-CRYPT}", kMd5Crypt), "secret2"));
    CPPUNIT_ASSERT(verify_password(s("{SHA256-CRYPT}", kSha256Crypt), "secret5"));
    CPPUNIT_ASSERT(!verify_password(s("{SHA256-CRYPT}", kSha256Crypt), "secret6"));
    CPPUNIT_ASSERT(verify_password(s("{SHA512-CRYPT}", kSha512Crypt), "secret6"));
    CPPUNIT_ASSERT(!verify_password(s("{SHA512-CRYPT}", kSha512Crypt), ""));
    CPPUNIT_ASSERT(verify_password(s("{CRYPT}", kSha512Crypt), "secret6"));
    CPPUNIT_ASSERT(verify_password(s("{MD5}", kMd5Crypt), "secret1"));
  }

  void bare_crypt_string_is_crypt() {
    CPPUNIT_ASSERT(verify_password(kSha512Crypt, "secret6"));
    CPPUNIT_ASSERT(!verify_password(kSha512Crypt, "secret5"));
    CPPUNIT_ASSERT(parse_secret(kSha512Crypt).scheme == PasswordScheme::kCrypt);
    // A plaintext password written without {PLAIN} is not taken as crypt.
    CPPUNIT_ASSERT(parse_secret("tanstaaf").scheme == PasswordScheme::kUnsupported);
    CPPUNIT_ASSERT(!verify_password("tanstaaf", "tanstaaf"));
  }

  void blowfish_2b_and_2y() {
    std::string hash = bcrypt_of("blowfish!");
    CPPUNIT_ASSERT(verify_password("{BLF-CRYPT}" + hash, "blowfish!"));
    CPPUNIT_ASSERT(!verify_password("{BLF-CRYPT}" + hash, "blowfish?"));
    // PHP and Dovecot write $2y$; it is the same algorithm.
    std::string y = "$2y$" + hash.substr(4);
    CPPUNIT_ASSERT(verify_password("{BLF-CRYPT}" + y, "blowfish!"));
    CPPUNIT_ASSERT(!verify_password("{BLF-CRYPT}" + y, "blowfish"));
  }

  void crypt_scheme_must_fit_its_body() {
    CPPUNIT_ASSERT(!verify_password(s("{SHA512-CRYPT}", kMd5Crypt), "secret1"));
    CPPUNIT_ASSERT(parse_secret(s("{SHA512-CRYPT}", kMd5Crypt)).scheme ==
                   PasswordScheme::kUnsupported);
    CPPUNIT_ASSERT(!verify_password(s("{BLF-CRYPT}", kSha256Crypt), "secret5"));
    CPPUNIT_ASSERT(!verify_password("{SHA512-CRYPT}", ""));
  }

  void digest_schemes_known_vectors() {
    CPPUNIT_ASSERT(verify_password(s("{SHA256}", kSha256B64), "hunter2"));
    CPPUNIT_ASSERT(!verify_password(s("{SHA256}", kSha256B64), "hunter3"));
    CPPUNIT_ASSERT(verify_password(s("{SHA256}", kSha256Hex), "hunter2"));
    CPPUNIT_ASSERT(verify_password(s("{SHA512}", kSha512B64), "hunter2"));
    CPPUNIT_ASSERT(!verify_password(s("{SHA512}", kSha512B64), "Hunter2"));
    CPPUNIT_ASSERT(verify_password(s("{SSHA256}", kSsha256), "hunter2"));
    CPPUNIT_ASSERT(!verify_password(s("{SSHA256}", kSsha256), "hunter"));
    CPPUNIT_ASSERT(verify_password(s("{SSHA512}", kSsha512), "hunter2"));
    CPPUNIT_ASSERT(!verify_password(s("{SSHA512}", kSsha512), "hunter22"));
    // The digest of one scheme under another name has the wrong length.
    CPPUNIT_ASSERT(!verify_password(s("{SHA512}", kSha256B64), "hunter2"));
    CPPUNIT_ASSERT(parse_secret(s("{SHA256}", "not*base64")).scheme ==
                   PasswordScheme::kUnsupported);
  }

  void unknown_or_broken_schemes_never_match() {
    CPPUNIT_ASSERT(!verify_password("{ARGON2ID}whatever", "whatever"));
    CPPUNIT_ASSERT(!verify_password("{ARGON2ID}whatever", ""));
    CPPUNIT_ASSERT(!verify_password("{PLAIN", "{PLAIN"));
    CPPUNIT_ASSERT(!verify_password("", ""));
    ParsedSecret p = parse_secret("{ARGON2ID}x");
    CPPUNIT_ASSERT(p.scheme == PasswordScheme::kUnsupported);
    CPPUNIT_ASSERT_EQUAL(std::string("ARGON2ID"), std::string(p.scheme_name));
    CPPUNIT_ASSERT(!is_known_scheme("ARGON2ID"));
    CPPUNIT_ASSERT(is_known_scheme("sha512-crypt"));
  }

  void nul_in_password_is_refused() {
    using namespace std::string_literals;
    CPPUNIT_ASSERT(!verify_password(s("{SHA512-CRYPT}", kSha512Crypt), "secret6\0junk"s));
    CPPUNIT_ASSERT(!verify_password("{PLAIN}a\0b"s, "a\0b"s));
  }

  void constant_time_equal_is_equality() {
    CPPUNIT_ASSERT(constant_time_equal("abc", "abc"));
    CPPUNIT_ASSERT(!constant_time_equal("abc", "abd"));
    CPPUNIT_ASSERT(!constant_time_equal("abc", "ab"));
    CPPUNIT_ASSERT(!constant_time_equal("ab", "abc"));
    CPPUNIT_ASSERT(!constant_time_equal("", "a"));
    CPPUNIT_ASSERT(!constant_time_equal("a", ""));
    CPPUNIT_ASSERT(constant_time_equal("", ""));
  }

  void hash_password_round_trips() {
    const char* schemes[] = {"SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT", "BLF-CRYPT", "SHA256",
                             "SSHA256",      "SHA512",       "SSHA512",   "PLAIN",     "CRYPT"};
    for (const char* scheme : schemes) {
      std::string hash = hash_password(scheme, "correct horse");
      CPPUNIT_ASSERT_MESSAGE(scheme, !hash.empty());
      CPPUNIT_ASSERT_MESSAGE(hash, hash.front() == '{');
      CPPUNIT_ASSERT_MESSAGE(hash, verify_password(hash, "correct horse"));
      CPPUNIT_ASSERT_MESSAGE(hash, !verify_password(hash, "correct horse "));
    }
    CPPUNIT_ASSERT(hash_password("sha512-crypt", "x").starts_with("{SHA512-CRYPT}$6$"));
    CPPUNIT_ASSERT(hash_password("BLF-CRYPT", "x").starts_with("{BLF-CRYPT}$2b$"));
    CPPUNIT_ASSERT(hash_password("CRYPT", "x").starts_with("{SHA512-CRYPT}$6$"));
  }

  void hash_password_salts_are_random() {
    CPPUNIT_ASSERT(hash_password("SHA512-CRYPT", "same") != hash_password("SHA512-CRYPT", "same"));
    CPPUNIT_ASSERT(hash_password("SSHA256", "same") != hash_password("SSHA256", "same"));
  }

  void hash_password_unknown_scheme_is_empty() {
    CPPUNIT_ASSERT(hash_password("ARGON2ID", "x").empty());
    using namespace std::string_literals;
    CPPUNIT_ASSERT(hash_password("SHA512-CRYPT", "a\0b"s).empty());
    Result<std::string> r = make_password_hash("NOPE", "x");
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT(r.error().message.find("unknown") != std::string::npos);
  }

  void apop_rfc1939_example() {
    const char* ts = "<1896.697170952@dbc.mtview.ca.us>";
    CPPUNIT_ASSERT_EQUAL(std::string("c4c9334bac560ecc979e58001b3e22fb"),
                         apop_digest(ts, "tanstaaf"));
    CPPUNIT_ASSERT(verify_apop("{PLAIN}tanstaaf", ts, "c4c9334bac560ecc979e58001b3e22fb"));
    CPPUNIT_ASSERT(verify_apop("{PLAIN}tanstaaf", ts, "C4C9334BAC560ECC979E58001B3E22FB"));
    CPPUNIT_ASSERT(!verify_apop("{PLAIN}tanstaaf", ts, "c4c9334bac560ecc979e58001b3e22fc"));
    CPPUNIT_ASSERT(!verify_apop("{PLAIN}tanstaaf", ts, "c4c9334bac560ecc979e58001b3e22f"));
    CPPUNIT_ASSERT(
        !verify_apop("{PLAIN}tanstaaf", "<other@host>", "c4c9334bac560ecc979e58001b3e22fb"));
    CPPUNIT_ASSERT(!verify_apop("{PLAIN}tanstaaf", ts, ""));
  }

  void apop_needs_plaintext() {
    const char* ts = "<1896.697170952@dbc.mtview.ca.us>";
    std::string hashed = hash_password("SHA512-CRYPT", "tanstaaf");
    CPPUNIT_ASSERT(!verify_apop(hashed, ts, "c4c9334bac560ecc979e58001b3e22fb"));
  }

  void cost_classes_follow_algorithm_and_cost() {
    CPPUNIT_ASSERT_EQUAL(std::string("crypt:$6$"), verification_cost_class(kSha512Crypt));
    CPPUNIT_ASSERT_EQUAL(std::string("crypt:$6$"),
                         verification_cost_class(hash_password("SHA512-CRYPT", "x")));
    CPPUNIT_ASSERT_EQUAL(std::string("crypt:$6$rounds=10000"),
                         verification_cost_class("{SHA512-CRYPT}$6$rounds=10000$salt$hash"));
    CPPUNIT_ASSERT_EQUAL(std::string("crypt:$2b$04"), verification_cost_class(bcrypt_of("x")));
    CPPUNIT_ASSERT_EQUAL(std::string("crypt:$1$"), verification_cost_class(kMd5Crypt));
    CPPUNIT_ASSERT_EQUAL(std::string("plain"), verification_cost_class("{PLAIN}x"));
    CPPUNIT_ASSERT_EQUAL(std::string("digest"), verification_cost_class(s("{SSHA256}", kSsha256)));
    CPPUNIT_ASSERT_EQUAL(std::string("unsupported"), verification_cost_class("{NOPE}x"));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PasswordSchemeTest);

}  // namespace pop3d
