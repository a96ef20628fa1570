#include "auth/dummy_hash.hpp"

#include <crypt.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <cerrno>
#include <cstdlib>

#include "auth/crypt_scratch.hpp"
#include "auth/password_scheme.hpp"

namespace pop3d {

namespace {

// 32 characters of 64 possible: 192 bits, far beyond guessing, and short
// enough for every crypt(3) method (bcrypt reads 72 bytes at most).
constexpr size_t kPasswordChars = 32;
// Salts in the crypt(3) methods libxcrypt knows are at most 43 characters
// (yescrypt's longest); a longer "salt" field is not one we can imitate.
constexpr size_t kMaxSaltChars = 64;
// bcrypt: "$2b$NN$", then 22 salt characters.
constexpr size_t kBcryptPrefixChars = 7;
constexpr size_t kBcryptSaltChars = 22;
// Traditional DES crypt(3): 2 salt characters.
constexpr size_t kDesSaltChars = 2;
// Random input for crypt_gensalt_rn; every method needs 16 bytes or fewer.
constexpr size_t kGensaltRandomBytes = 32;

// crypt(3)'s alphabet. 64 symbols, so a byte's low 6 bits pick one without
// bias.
constexpr char kCryptAlphabet[] =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void random_bytes(unsigned char* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) == 1) return;
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::getrandom(out + done, n - done, 0);
    if (got < 0 && errno == EINTR) continue;
    // Without randomness the dummy would be predictable, and so would any
    // salt this process makes: there is no safe way on.
    if (got <= 0) std::abort();
    done += static_cast<size_t>(got);
  }
}

std::string random_crypt_chars(size_t n) {
  std::array<unsigned char, kMaxSaltChars> bytes{};
  random_bytes(bytes.data(), n);
  std::string out(n, '.');
  for (size_t i = 0; i < n; ++i) out[i] = kCryptAlphabet[bytes[i] & 63];
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return out;
}

SecretString random_password() {
  std::string chars = random_crypt_chars(kPasswordChars);
  SecretString password(chars);
  OPENSSL_cleanse(chars.data(), chars.size());
  return password;
}

bool is_bcrypt(std::string_view body) {
  return body.size() >= kBcryptPrefixChars + kBcryptSaltChars && body[0] == '$' && body[1] == '2' &&
         body[3] == '$' && body[6] == '$' &&
         (body[2] == 'a' || body[2] == 'b' || body[2] == 'x' || body[2] == 'y');
}

// "{CRYPT}" + crypt(password, setting), or "" when this libcrypt refuses
// the setting.
std::string crypt_dummy(const SecretString& password, const std::string& setting) {
  CryptScratch scratch;
  const char* out = ::crypt_rn(password.c_str(), setting.c_str(), scratch.get(), scratch.size());
  if (out == nullptr || out[0] == '*') return {};
  return std::string("{CRYPT}") + out;
}

// A crypt(3) dummy with the model's setting prefix and a random salt of
// the model's length (the length can change the cost of some methods).
std::string crypt_dummy_like(std::string_view body, const SecretString& password) {
  std::string setting;
  if (is_bcrypt(body)) {
    // The last salt character carries 2 bits; ".Oeu" are the values with
    // the other 4 bits clear, the canonical encodings.
    static constexpr char kLast[] = ".Oeu";
    std::array<unsigned char, 1> pick{};
    random_bytes(pick.data(), pick.size());
    setting = std::string(body.substr(0, kBcryptPrefixChars)) +
              random_crypt_chars(kBcryptSaltChars - 1) + kLast[pick[0] & 3];
  } else if (body.starts_with('$')) {
    const std::string prefix = crypt_cost_prefix(body);
    if (prefix.empty()) return {};
    const size_t last = body.rfind('$');
    const size_t salt_chars = last - prefix.size();
    if (salt_chars == 0 || salt_chars > kMaxSaltChars) return {};
    setting = prefix + random_crypt_chars(salt_chars);
  } else {
    setting = random_crypt_chars(kDesSaltChars);
  }
  std::string out = crypt_dummy(password, setting);
  if (out.empty() && !setting.empty()) {
    // Methods such as yescrypt refuse a last salt character whose unused
    // bits are set; '.' is 0 in every encoding, so it is always canonical.
    setting.back() = '.';
    out = crypt_dummy(password, setting);
  }
  OPENSSL_cleanse(setting.data(), setting.size());
  return out;
}

}  // namespace

std::string crypt_cost_prefix(std::string_view stored) {
  const ParsedSecret parsed = parse_secret(stored);
  if (parsed.scheme != PasswordScheme::kCrypt) return {};
  const std::string_view body = parsed.body;
  if (is_bcrypt(body)) return std::string(body.substr(0, kBcryptPrefixChars));
  if (!body.starts_with('$')) return {};
  // "$id$[params$]salt$hash": everything before the salt. The salt is the
  // field before the last '$'; "$id$" needs at least one id character.
  const size_t last = body.rfind('$');
  if (last == 0 || last == std::string_view::npos) return {};
  const size_t before_salt = body.rfind('$', last - 1);
  if (before_salt == std::string_view::npos || before_salt < 2) return {};
  return std::string(body.substr(0, before_salt + 1));
}

SecretString make_dummy_hash() {
  const SecretString password = random_password();
  std::array<unsigned char, kGensaltRandomBytes> rbytes{};
  random_bytes(rbytes.data(), rbytes.size());
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
  std::string out;
  // nullptr: libxcrypt's default method at its default cost.
  for (const char* method : {static_cast<const char*>(nullptr), "$6$"}) {
    if (::crypt_gensalt_rn(method, 0, reinterpret_cast<const char*>(rbytes.data()),
                           static_cast<int>(rbytes.size()), setting.data(),
                           static_cast<int>(setting.size())) != nullptr) {
      out = crypt_dummy(password, setting.data());
      if (!out.empty()) break;
    }
  }
  OPENSSL_cleanse(rbytes.data(), rbytes.size());
  OPENSSL_cleanse(setting.data(), setting.size());
  // A libcrypt that makes no hash at all still leaves OpenSSL's digests,
  // which cost something rather than nothing.
  if (out.empty()) out = hash_password("SSHA512", password.view());
  SecretString result(out);
  OPENSSL_cleanse(out.data(), out.size());
  return result;
}

SecretString make_dummy_hash(std::string_view model) {
  const ParsedSecret parsed = parse_secret(model);
  const SecretString password = random_password();
  std::string out;
  if (parsed.scheme == PasswordScheme::kCrypt) {
    out = crypt_dummy_like(parsed.body, password);
  } else if (parsed.scheme != PasswordScheme::kUnsupported) {
    // The digests and the iterated schemes (PBKDF2, Argon2, SCRAM) carry
    // their cost in the body, which make_password_hash_like copies; so the
    // plain and digest ones need no case of their own here either.
    Result<std::string> like = make_password_hash_like(model, password.view());
    if (like) out = std::move(*like);
  }
  if (out.empty()) return make_dummy_hash();
  SecretString result(out);
  OPENSSL_cleanse(out.data(), out.size());
  return result;
}

const SecretString& process_dummy_hash() {
  static const SecretString dummy = make_dummy_hash();
  return dummy;
}

}  // namespace pop3d
