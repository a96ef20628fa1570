// Password schemes: how a secret stored in a passwd file ("{SCHEME}body",
// the Dovecot convention) is checked against what a client typed, and how
// an administrator makes a new one. Pure functions, no I/O besides the
// random salt, so the daemon and the tests share one verifier.
//
// Schemes (names are case-insensitive):
//   {PLAIN}, {CLEARTEXT}                 the secret itself (usable for APOP)
//   {CRYPT}, or no prefix                any crypt(3) string libcrypt knows
//   {MD5-CRYPT} ($1$), {SHA256-CRYPT} ($5$), {SHA512-CRYPT} ($6$),
//   {BLF-CRYPT} ($2y$/$2b$/$2a$)         crypt(3), the body must carry that id
//   {SHA256}, {SHA512}                   base64 (or hex) of the raw digest
//   {SSHA256}, {SSHA512}                 base64 of digest(password + salt) + salt
//   {SHA}, {SHA1}, {SSHA}                the same with SHA-1
//   {PLAIN-MD5} (hex), {LDAP-MD5} (base64), {SMD5} (salted): MD5
//   any of the digest schemes above with .HEX or .B64 (.BASE64) appended,
//                                        which fixes the body's encoding
//   {PBKDF2}                             Dovecot's "$1$salt$rounds$hex key",
//                                        PBKDF2-HMAC-SHA1 with a 20-byte key
//   {ARGON2I}, {ARGON2ID}                "$argon2id$v=19$m=..,t=..,p=..$salt$hash"
//                                        (PHC string, checked with libargon2)
//   {SCRAM-SHA-1}, {SCRAM-SHA-256}       Dovecot's "iterations,salt,StoredKey,
//                                        ServerKey" (RFC 5802); a plaintext
//                                        login is checked by deriving StoredKey
#pragma once

#include <string>
#include <string_view>

#include "util/result.hpp"

namespace pop3d {

enum class PasswordScheme {
  kPlain,
  kCrypt,  // any crypt(3) string, including the MD5/SHA/BLF-CRYPT names
  kSha256,
  kSsha256,
  kSha512,
  kSsha512,
  kSha1,    // {SHA}, {SHA1}
  kSsha1,   // {SSHA}
  kMd5,     // {PLAIN-MD5}, {LDAP-MD5}: unsalted MD5 ({MD5} is MD5-CRYPT)
  kSmd5,    // {SMD5}
  kPbkdf2,  // Dovecot's {PBKDF2}
  kArgon2i,
  kArgon2id,
  kScramSha1,
  kScramSha256,
  kUnsupported,  // unknown name, or a body that cannot be this scheme
};

struct ParsedSecret {
  PasswordScheme scheme = PasswordScheme::kUnsupported;
  std::string_view scheme_name;  // as written between the braces; "CRYPT" if none
  std::string_view body;         // what follows the braces
};

// Splits "{SCHEME}body" and checks that the body can belong to the scheme
// (a {SHA512-CRYPT} body must start with "$6$", and so on), so a typo in
// the file shows up at load time rather than as a puzzling failed login.
ParsedSecret parse_secret(std::string_view stored);

// True when `name` (without braces) is a scheme this file knows.
bool is_known_scheme(std::string_view name);

// True when `password` matches `stored`. False for unsupported schemes and
// for passwords with NUL bytes (crypt(3) cannot see past them, so they
// could match a shorter password). Comparisons are constant-time.
bool verify_password(std::string_view stored, std::string_view password);

// A label such that secrets with the same label take about the same time
// to verify: the scheme, and for crypt(3) the algorithm id and its cost
// ("crypt:$2b$12", "crypt:$6$rounds=10000", "crypt:$6$"), for the
// iterated schemes their parameters ("argon2id:v=19,m=65536,t=3,p=1",
// "pbkdf2:5000", "scram-sha-256:4096"). Used to make failed lookups of
// unknown users cost what most real users cost.
std::string verification_cost_class(std::string_view stored);

// True when the plaintext can be recovered from `stored` ({PLAIN}), which
// APOP needs; plaintext_secret() then returns it (a view into `stored`).
bool is_plaintext_recoverable(std::string_view stored);
std::string_view plaintext_secret(std::string_view stored);

// APOP (RFC 1939 section 7): true when `digest` (32 hex digits, either
// case) is MD5(timestamp + secret) for the plaintext secret in `stored`.
// False when `stored` is not {PLAIN}: nothing else lets us compute it.
bool verify_apop(std::string_view stored, std::string_view timestamp, std::string_view digest);

// Lower-case hex MD5(timestamp + secret), the digest an APOP client sends.
std::string apop_digest(std::string_view timestamp, std::string_view secret);

// True when `given` equals `expected`, in time that depends only on
// given.size() (which the caller already knows), never on where the two
// differ or on expected.size().
bool constant_time_equal(std::string_view expected, std::string_view given);

// Makes a stored form of `password` with a fresh random salt, prefixed with
// its scheme: "SHA512-CRYPT" (the recommended default), "SHA256-CRYPT",
// "MD5-CRYPT", "BLF-CRYPT", "SSHA256", "SSHA512", "SHA256", "SHA512",
// "SHA"/"SHA1", "SSHA", "PLAIN-MD5", "LDAP-MD5", "SMD5" (each of these
// digest schemes also with ".HEX" or ".B64"), "PBKDF2", "ARGON2I",
// "ARGON2ID", "SCRAM-SHA-1", "SCRAM-SHA-256" (with Dovecot 2.3's default
// costs) and "PLAIN". Returns "" for an unknown scheme or when no salt
// could be made.
std::string hash_password(std::string_view scheme, std::string_view password);

// The same, with the reason when it fails, for a command-line tool.
Result<std::string> make_password_hash(std::string_view scheme, std::string_view password);

// A stored form of `password`, with a fresh random salt, in the same
// verification_cost_class() as `model`: the same scheme and encoding, and
// for the iterated schemes the same parameters (Argon2 memory, passes,
// lanes, salt and hash length; PBKDF2 rounds; SCRAM iterations), so that
// checking a password against it costs what checking against `model`
// costs. Nothing of the model's salt or hash is copied. Errors for
// crypt(3) models (whose cost lives in the crypt setting, see
// dummy_hash.hpp) and for unsupported ones.
Result<std::string> make_password_hash_like(std::string_view model, std::string_view password);

}  // namespace pop3d
