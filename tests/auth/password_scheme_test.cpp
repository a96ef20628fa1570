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
  CPPUNIT_TEST(dovecot_digest_schemes);
  CPPUNIT_TEST(suffix_fixes_the_encoding);
  CPPUNIT_TEST(pbkdf2);
  CPPUNIT_TEST(scram);
  CPPUNIT_TEST(argon2);
  CPPUNIT_TEST(hash_like_keeps_the_cost_class);
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
    // A known scheme with a body that cannot be it: still unsupported.
    CPPUNIT_ASSERT(is_known_scheme("ARGON2ID"));
    CPPUNIT_ASSERT(!is_known_scheme("ARGON3"));
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
    CPPUNIT_ASSERT(hash_password("ARGON3", "x").empty());
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

  // Vectors from independent implementations: doveadm pw (Dovecot 2.3 with
  // libsodium), the argon2 reference CLI, and Python's hashlib for the
  // RFC 6070 / RFC 7677 inputs. Password "secret" unless said otherwise.
  void dovecot_digest_schemes() {
    const char* ok[] = {
        "{SSHA}Ax5rm0vbMvp5B6VcKuISAAMRES0W9vYa",
        "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
        "{SHA1}5en6G6MezRroT3XKqkdPOmY/BfQ=",
        "{SMD5}v7y4JmGMpLcKsIy8J6wResRNSkc=",
        "{PLAIN-MD5}5ebe2294ecd0e0f08eab7690d2a6ee69",
        "{LDAP-MD5}Xr4ilOzQ4PCOq3aQ0qbuaQ==",
        "{SHA.HEX}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4",
        "{SHA1.B64}5en6G6MezRroT3XKqkdPOmY/BfQ=",
        "{SSHA.HEX}35a6c9b884659b2cda7d8f4b3800c4398e397e20eb5f114c",
        "{PLAIN-MD5.B64}Xr4ilOzQ4PCOq3aQ0qbuaQ==",
        "{LDAP-MD5.HEX}5ebe2294ecd0e0f08eab7690d2a6ee69",
        "{SHA256.HEX}2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b",
        "{SMD5.HEX}1998a85e49a39ea306d4c088bb5ce61deea56983",
        "{ssha512.hex}5f9dbf617a795d1fb4386732b33c537a4bea3d24ab8b326010c4ff188d71eaa14589a313d789"
        "2f872d5dc148910ccba4b616316a2ada766e539bb65cd55e7e7090732d3e",
    };
    for (const char* stored : ok) {
      CPPUNIT_ASSERT_MESSAGE(stored, verify_password(stored, "secret"));
      CPPUNIT_ASSERT_MESSAGE(stored, !verify_password(stored, "Secret"));
      CPPUNIT_ASSERT_MESSAGE(stored, !verify_password(stored, ""));
      CPPUNIT_ASSERT_EQUAL(std::string("digest"), verification_cost_class(stored));
    }
  }

  void suffix_fixes_the_encoding() {
    // Hex where base64 is declared, and the other way round, is refused.
    CPPUNIT_ASSERT(parse_secret("{SHA.B64}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4").scheme ==
                   PasswordScheme::kUnsupported);
    CPPUNIT_ASSERT(parse_secret("{SSHA.HEX}Ax5rm0vbMvp5B6VcKuISAAMRES0W9vYa").scheme ==
                   PasswordScheme::kUnsupported);
    // Only digests take a suffix; an unknown suffix is no scheme.
    CPPUNIT_ASSERT(!is_known_scheme("PLAIN.HEX"));
    CPPUNIT_ASSERT(!is_known_scheme("PBKDF2.B64"));
    CPPUNIT_ASSERT(!is_known_scheme("SHA.ROT13"));
    CPPUNIT_ASSERT(is_known_scheme("sha256.base64"));
    for (const char* scheme : {"SHA.HEX", "SSHA.HEX", "SMD5.B64", "PLAIN-MD5", "LDAP-MD5.HEX"}) {
      const std::string made = hash_password(scheme, "pw");
      CPPUNIT_ASSERT_MESSAGE(scheme, made.starts_with("{" + std::string(scheme) + "}"));
      CPPUNIT_ASSERT_MESSAGE(made, verify_password(made, "pw"));
      CPPUNIT_ASSERT_MESSAGE(made, !verify_password(made, "pW"));
    }
    // Dovecot writes PLAIN-MD5 as hex: 32 characters.
    CPPUNIT_ASSERT_EQUAL(size_t{11 + 32}, hash_password("PLAIN-MD5", "pw").size());
  }

  void pbkdf2() {
    // RFC 6070: P="password", S="salt", c=4096, dkLen=20.
    const std::string rfc = "{PBKDF2}$1$salt$4096$4b007901b765489abead49d926f721d065a429c1";
    CPPUNIT_ASSERT(verify_password(rfc, "password"));
    CPPUNIT_ASSERT(!verify_password(rfc, "passwore"));
    CPPUNIT_ASSERT_EQUAL(std::string("pbkdf2:4096"), verification_cost_class(rfc));
    const std::string dove =
        "{PBKDF2}$1$dPM1BJRLXa54vETs$1000$18c5a8e7baa02366b179af48159faf6ba5363ea3";
    CPPUNIT_ASSERT(verify_password(dove, "secret"));
    CPPUNIT_ASSERT(!verify_password(dove, "secreT"));
    for (const char* bad : {"{PBKDF2}$1$salt$0$4b007901b765489abead49d926f721d065a429c1",
                            "{PBKDF2}$1$salt$99999999999$4b007901b765489abead49d926f721d065a429c1",
                            "{PBKDF2}$2$salt$4096$4b007901b765489abead49d926f721d065a429c1",
                            "{PBKDF2}$1$salt$4096$4b007901b765489abead49d926f721d065a429",
                            "{PBKDF2}$1$$4096$4b007901b765489abead49d926f721d065a429c1",
                            "{PBKDF2}$1$salt$4096$4b007901b765489abead49d926f721d065a429c1$",
                            "{PBKDF2}$1$salt$+4096$4b007901b765489abead49d926f721d065a429c1"}) {
      CPPUNIT_ASSERT_MESSAGE(bad, parse_secret(bad).scheme == PasswordScheme::kUnsupported);
      CPPUNIT_ASSERT_MESSAGE(bad, !verify_password(bad, "password"));
    }
    const std::string made = hash_password("PBKDF2", "pw");
    CPPUNIT_ASSERT(made.starts_with("{PBKDF2}$1$"));
    CPPUNIT_ASSERT_EQUAL(std::string("pbkdf2:5000"), verification_cost_class(made));
    CPPUNIT_ASSERT(verify_password(made, "pw"));
    CPPUNIT_ASSERT(!verify_password(made, "px"));
  }

  void scram() {
    // RFC 5802 / RFC 7677 example salts and password, keys from hashlib.
    const std::string sha1 =
        "{SCRAM-SHA-1}4096,QSXCR+Q6sek8bf92,6dlGYMOdZcOPutkcNY8U2g7vK9Y=,D+CSWLOshSulAsxiupA+qs2/"
        "fTE=";
    const std::string sha256 =
        "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
    const std::string dove =
        "{SCRAM-SHA-1}4096,y0778u98U73KSioI5I4xJw==,mk73FupX5lsKa7yBa0aLm1NflRI=,"
        "Drk5zsoWuxLn5N3crciqlFtxhPg=";
    CPPUNIT_ASSERT(verify_password(sha1, "pencil"));
    CPPUNIT_ASSERT(!verify_password(sha1, "pencils"));
    CPPUNIT_ASSERT(verify_password(sha256, "pencil"));
    CPPUNIT_ASSERT(!verify_password(sha256, "Pencil"));
    CPPUNIT_ASSERT(verify_password(dove, "secret"));
    CPPUNIT_ASSERT(!verify_password(dove, "pencil"));
    CPPUNIT_ASSERT_EQUAL(std::string("scram-sha-256:4096"), verification_cost_class(sha256));
    for (const char* bad :
         {"{SCRAM-SHA-1}4096,QSXCR+Q6sek8bf92,6dlGYMOdZcOPutkcNY8U2g7vK9Y=",
          "{SCRAM-SHA-1}0,QSXCR+Q6sek8bf92,6dlGYMOdZcOPutkcNY8U2g7vK9Y=,D+CSWLOshSulAsxiupA+qs2/"
          "fTE=",
          "{SCRAM-SHA-1}4096,QSXCR+Q6sek8bf9,6dlGYMOdZcOPutkcNY8U2g7vK9Y=,D+CSWLOshSulAsxiupA+qs2/"
          "fTE=",
          // A SHA-256 sized key under SHA-1.
          "{SCRAM-SHA-1}4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
          "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="}) {
      CPPUNIT_ASSERT_MESSAGE(bad, parse_secret(bad).scheme == PasswordScheme::kUnsupported);
    }
    for (const char* scheme : {"SCRAM-SHA-1", "SCRAM-SHA-256"}) {
      const std::string made = hash_password(scheme, "pw");
      CPPUNIT_ASSERT_MESSAGE(made, made.starts_with("{" + std::string(scheme) + "}4096,"));
      CPPUNIT_ASSERT_MESSAGE(made, verify_password(made, "pw"));
      CPPUNIT_ASSERT_MESSAGE(made, !verify_password(made, "p"));
    }
  }

  void argon2() {
    // The argon2 reference CLI: password "password", salt "somesalt".
    const char* ref_i4 =
        "{ARGON2I}$argon2i$v=19$m=64,t=2,p=4$c29tZXNhbHQ$E7A+"
        "WywOnLcYyp2vFMlfFDVRmSi7h0EzwNc8Rr3Px7Y";
    const char* ref_i =
        "{ARGON2I}$argon2i$v=19$m=16,t=3,p=1$c29tZXNhbHQ$"
        "gytRwYBrdgsJyPMXx3Hg3r2nNNupkpXZ4DXAepFEI9M";
    const char* ref_v10 = "{ARGON2I}$argon2i$v=16$m=64,t=2,p=2$c29tZXNhbHQ$K4lenFu6WE3b95NRA3umqw";
    const char* ref_id =
        "{ARGON2ID}$argon2id$v=19$m=16,t=2,p=1$c29tZXNhbHQ$"
        "BYICwHI82IwkQIzKwcv4KN7mO884Q6FQ6jZKHgtOH/g";
    for (const char* stored : {ref_i4, ref_i, ref_v10, ref_id}) {
      CPPUNIT_ASSERT_MESSAGE(stored, verify_password(stored, "password"));
      CPPUNIT_ASSERT_MESSAGE(stored, !verify_password(stored, "passwore"));
    }
    CPPUNIT_ASSERT_EQUAL(std::string("argon2i:v=19,m=64,t=2,p=4"), verification_cost_class(ref_i4));
    // doveadm pw (libsodium), Dovecot's default costs.
    const char* dove =
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$NAgy1qC7QEiqgn22RDJP+Q$"
        "yevfg0ThcAkJsfLBClqIn0rUyKVX5uujlWxgIvtO/IY";
    CPPUNIT_ASSERT(verify_password(dove, "secret"));
    CPPUNIT_ASSERT(!verify_password(dove, "secrex"));
    const std::string i_body =
        "$argon2i$v=19$m=16,t=3,p=1$c29tZXNhbHQ$gytRwYBrdgsJyPMXx3Hg3r2nNNupkpXZ4DXAepFEI9M";
    const std::string bad[] = {
        "{ARGON2ID}" + i_body,  // the body's type must be the scheme's
        "{ARGON2I}$argon2i$v=19$m=16,t=3,p=1$c29tZXNhbHQ",
        "{ARGON2I}$argon2i$v=18$m=16,t=3,p=1$c29tZXNhbHQ$"
        "gytRwYBrdgsJyPMXx3Hg3r2nNNupkpXZ4DXAepFEI9M",
        "{ARGON2I}$argon2i$v=19$m=99999999,t=3,p=1$c29tZXNhbHQ$"
        "gytRwYBrdgsJyPMXx3Hg3r2nNNupkpXZ4DXAepFEI9M",
        "{ARGON2I}$argon2i$v=19$t=3,m=16,p=1$c29tZXNhbHQ$"
        "gytRwYBrdgsJyPMXx3Hg3r2nNNupkpXZ4DXAepFEI9M",
        "{ARGON2I}$argon2i$v=19$m=16,t=3,p=1$c29tZXNhbHQ=$"
        "gytRwYBrdgsJyPMXx3Hg3r2nNNupkpXZ4DXAepFEI9M",
        "{ARGON2I}$argon2i$v=19$m=16,t=3,p=1$c29t$gytRwYBrdgsJyPMXx3Hg3r2nNNupkpXZ4DXAepFEI9M",
        "{ARGON2I}$argon2i$v=19$m=16,t=3,p=4$c29tZXNhbHQ$"
        "gytRwYBrdgsJyPMXx3Hg3r2nNNupkpXZ4DXAepFEI9M",
    };
    for (const std::string& b : bad) {
      CPPUNIT_ASSERT_MESSAGE(b, parse_secret(b).scheme == PasswordScheme::kUnsupported);
      CPPUNIT_ASSERT_MESSAGE(b, !verify_password(b, "password"));
    }
    const std::string made = hash_password("ARGON2ID", "pw");
    CPPUNIT_ASSERT_EQUAL(std::string("argon2id:v=19,m=65536,t=3,p=1"),
                         verification_cost_class(made));
    CPPUNIT_ASSERT(verify_password(made, "pw"));
    CPPUNIT_ASSERT(!verify_password(made, "pv"));
    CPPUNIT_ASSERT_EQUAL(std::string("argon2i:v=19,m=32768,t=4,p=1"),
                         verification_cost_class(hash_password("ARGON2I", "pw")));
  }

  void hash_like_keeps_the_cost_class() {
    const std::string models[] = {
        "{ARGON2I}$argon2i$v=19$m=64,t=2,p=4$c29tZXNhbHQ$E7A+"
        "WywOnLcYyp2vFMlfFDVRmSi7h0EzwNc8Rr3Px7Y",
        "{ARGON2I}$argon2i$v=16$m=64,t=2,p=2$c29tZXNhbHQ$K4lenFu6WE3b95NRA3umqw",
        "{PBKDF2}$1$salt$4096$4b007901b765489abead49d926f721d065a429c1",
        "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "{SSHA.HEX}35a6c9b884659b2cda7d8f4b3800c4398e397e20eb5f114c",
        "{SMD5}v7y4JmGMpLcKsIy8J6wResRNSkc=",
        "{PLAIN}x",
    };
    for (const std::string& model : models) {
      Result<std::string> like = make_password_hash_like(model, "fresh");
      CPPUNIT_ASSERT_MESSAGE(model, static_cast<bool>(like));
      CPPUNIT_ASSERT_EQUAL_MESSAGE(model, verification_cost_class(model),
                                   verification_cost_class(*like));
      if (!model.starts_with("{PLAIN}")) {
        CPPUNIT_ASSERT_EQUAL_MESSAGE(model, model.size(), like->size());
      }
      CPPUNIT_ASSERT_MESSAGE(*like, verify_password(*like, "fresh"));
      CPPUNIT_ASSERT_MESSAGE(*like, !verify_password(*like, "password"));
    }
    // A fresh salt each time.
    CPPUNIT_ASSERT(*make_password_hash_like(models[2], "a") !=
                   *make_password_hash_like(models[2], "a"));
    CPPUNIT_ASSERT(!static_cast<bool>(make_password_hash_like(kMd5Crypt, "a")));
    CPPUNIT_ASSERT(!static_cast<bool>(make_password_hash_like("{NOPE}x", "a")));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PasswordSchemeTest);

}  // namespace pop3d
