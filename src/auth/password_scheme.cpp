#include "auth/password_scheme.hpp"

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "auth/crypt_scratch.hpp"
#include "auth/secret_string.hpp"
#include "util/base64.hpp"
#include "util/hex.hpp"

namespace pop3d {

namespace {

// Long enough that two hashes of one password never share a salt in
// practice; Dovecot uses 4 bytes, 8 costs nothing more.
constexpr size_t kSshaSaltBytes = 8;
// A salt longer than this in a stored {SSHA*} value is not one we or
// Dovecot made; refusing it keeps the digest input bounded.
constexpr size_t kMaxSshaSaltBytes = 64;
// 16 bytes of MD5, as hex.
constexpr size_t kApopDigestHexChars = 32;
// Traditional DES crypt(3): 2 salt characters and 11 of hash.
constexpr size_t kDesCryptChars = 13;

// What Dovecot 2.3's doveadm pw makes by default, so that hashes made here
// look like the ones a site already has.
constexpr unsigned kPbkdf2DefaultRounds = 5000;
constexpr size_t kPbkdf2SaltChars = 16;
// Dovecot's {PBKDF2} is PBKDF2-HMAC-SHA1 with a key of one SHA-1 output.
constexpr size_t kPbkdf2KeyBytes = 20;
constexpr unsigned kScramDefaultIterations = 4096;
constexpr size_t kScramSaltBytes = 16;
// An iteration count is read from the passwd-file and paid for by a worker
// at every login; past this (seconds of CPU per login) it is a typo or a
// file that means harm, and the user is refused rather than the worker
// stalled. Dovecot's defaults are 5000 and 4096.
constexpr unsigned long long kMaxKdfIterations = 5'000'000;

// Dovecot 2.3 (libsodium's "interactive" limits): ARGON2I 32 MiB, 4 passes;
// ARGON2ID 64 MiB, 3 passes; one lane; 16 bytes of salt, 32 of hash.
constexpr uint32_t kArgon2iDefaultMemoryKiB = 32768, kArgon2iDefaultPasses = 4;
constexpr uint32_t kArgon2idDefaultMemoryKiB = 65536, kArgon2idDefaultPasses = 3;
constexpr size_t kArgon2SaltBytes = 16, kArgon2HashBytes = 32;
// Every Argon2 check allocates its whole memory cost in the worker; 1 GiB
// (libsodium's "sensitive" level) is the most a login may take, past which
// a few logins at once could exhaust the host.
constexpr uint32_t kMaxArgon2MemoryKiB = 1u << 20;
constexpr uint32_t kMaxArgon2Passes = 64;
// Lanes only change the result (the check runs single-threaded: workers
// may not start threads), but each needs memory of its own.
constexpr uint32_t kMaxArgon2Lanes = 16;
// libargon2's own lower bound for salts; an upper one keeps input bounded.
constexpr size_t kMinArgon2SaltBytes = 8, kMaxArgon2SaltBytes = 64;
constexpr size_t kMinArgon2HashBytes = 16, kMaxArgon2HashBytes = 64;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [s](std::string_view p) { return s.starts_with(p); });
}

bool is_des_crypt_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '/';
}

// A body that crypt(3) could have produced: a modular "$id$..." string or a
// traditional 13-character DES one. Anything else is almost always a
// plaintext password written without {PLAIN}.
bool looks_like_crypt(std::string_view body) {
  if (body.starts_with('$')) return body.size() > 3;
  return body.size() == kDesCryptChars && std::all_of(body.begin(), body.end(), is_des_crypt_char);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> hex_decode(std::string_view in) {
  if (in.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 2);
  for (size_t i = 0; i < in.size(); i += 2) {
    int hi = hex_value(in[i]);
    int lo = hex_value(in[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

// The PHC string format's base64: the standard alphabet without padding.
std::optional<std::string> base64_unpadded_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 == 1 || in.find('=') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string padded(in);
  padded.append((4 - padded.size() % 4) % 4, '=');
  return base64_decode(padded);
}

std::string base64_unpadded_encode(std::string_view in) {
  std::string out = base64_encode(in);
  while (out.ends_with('=')) out.pop_back();
  return out;
}

// A decimal number with nothing around it, within [1, max].
std::optional<unsigned long long> parse_count(std::string_view s, unsigned long long max) {
  unsigned long long value = 0;
  if (s.empty() || s.front() == '+') return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size() || value == 0 || value > max) {
    return std::nullopt;
  }
  return value;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

bool random_fill(std::string& out, size_t n) {
  out.assign(n, '\0');
  return RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) == 1;
}

// How a digest scheme's body is written: the scheme's default (base64, or
// hex by length for unsalted digests), or what a .HEX / .B64 suffix says.
enum class Encoding { kDefault, kHex, kBase64 };

struct SchemeName {
  std::string_view name;
  PasswordScheme scheme;
  std::initializer_list<std::string_view> crypt_ids;  // required body prefixes, if any
};

const SchemeName* find_scheme(std::string_view name) {
  static const SchemeName kSchemes[] = {
      {"PLAIN", PasswordScheme::kPlain, {}},
      {"CLEARTEXT", PasswordScheme::kPlain, {}},
      {"CRYPT", PasswordScheme::kCrypt, {}},
      {"MD5-CRYPT", PasswordScheme::kCrypt, {"$1$"}},
      // Dovecot's old name for MD5-CRYPT.
      {"MD5", PasswordScheme::kCrypt, {"$1$"}},
      {"SHA256-CRYPT", PasswordScheme::kCrypt, {"$5$"}},
      {"SHA512-CRYPT", PasswordScheme::kCrypt, {"$6$"}},
      {"BLF-CRYPT", PasswordScheme::kCrypt, {"$2y$", "$2b$", "$2a$"}},
      {"SHA256", PasswordScheme::kSha256, {}},
      {"SSHA256", PasswordScheme::kSsha256, {}},
      {"SHA512", PasswordScheme::kSha512, {}},
      {"SSHA512", PasswordScheme::kSsha512, {}},
      {"SHA", PasswordScheme::kSha1, {}},
      {"SHA1", PasswordScheme::kSha1, {}},
      {"SSHA", PasswordScheme::kSsha1, {}},
      {"PLAIN-MD5", PasswordScheme::kMd5, {}},
      {"LDAP-MD5", PasswordScheme::kMd5, {}},
      {"SMD5", PasswordScheme::kSmd5, {}},
      {"PBKDF2", PasswordScheme::kPbkdf2, {}},
      {"ARGON2I", PasswordScheme::kArgon2i, {}},
      {"ARGON2ID", PasswordScheme::kArgon2id, {}},
      {"SCRAM-SHA-1", PasswordScheme::kScramSha1, {}},
      {"SCRAM-SHA-256", PasswordScheme::kScramSha256, {}},
  };
  for (const SchemeName& s : kSchemes) {
    if (iequals(s.name, name)) return &s;
  }
  return nullptr;
}

const EVP_MD* digest_of(PasswordScheme scheme) {
  switch (scheme) {
    case PasswordScheme::kSha256:
    case PasswordScheme::kSsha256:
    case PasswordScheme::kScramSha256:
      return EVP_sha256();
    case PasswordScheme::kSha512:
    case PasswordScheme::kSsha512:
      return EVP_sha512();
    case PasswordScheme::kSha1:
    case PasswordScheme::kSsha1:
    case PasswordScheme::kScramSha1:
    case PasswordScheme::kPbkdf2:
      return EVP_sha1();
    case PasswordScheme::kMd5:
    case PasswordScheme::kSmd5:
      return EVP_md5();
    default:
      return nullptr;
  }
}

// The schemes that store digest(password [+ salt]) [+ salt].
bool is_digest(PasswordScheme scheme) {
  switch (scheme) {
    case PasswordScheme::kSha256:
    case PasswordScheme::kSsha256:
    case PasswordScheme::kSha512:
    case PasswordScheme::kSsha512:
    case PasswordScheme::kSha1:
    case PasswordScheme::kSsha1:
    case PasswordScheme::kMd5:
    case PasswordScheme::kSmd5:
      return true;
    default:
      return false;
  }
}

bool is_salted(PasswordScheme scheme) {
  return scheme == PasswordScheme::kSsha256 || scheme == PasswordScheme::kSsha512 ||
         scheme == PasswordScheme::kSsha1 || scheme == PasswordScheme::kSmd5;
}

size_t digest_size(PasswordScheme scheme) {
  return static_cast<size_t>(EVP_MD_get_size(digest_of(scheme)));
}

// A scheme name as written, split into the scheme and an encoding suffix.
struct SchemeRef {
  const SchemeName* scheme = nullptr;
  Encoding encoding = Encoding::kDefault;
};

SchemeRef find_scheme_ref(std::string_view name) {
  SchemeRef ref;
  const size_t dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    const std::string_view suffix = name.substr(dot + 1);
    if (iequals(suffix, "HEX")) {
      ref.encoding = Encoding::kHex;
    } else if (iequals(suffix, "B64") || iequals(suffix, "BASE64")) {
      ref.encoding = Encoding::kBase64;
    } else {
      return ref;
    }
    name = name.substr(0, dot);
  }
  ref.scheme = find_scheme(name);
  // Only digests are raw bytes that need an encoding; a suffix on anything
  // else is a mistake we do not guess at.
  if (ref.scheme != nullptr && ref.encoding != Encoding::kDefault &&
      !is_digest(ref.scheme->scheme)) {
    ref.scheme = nullptr;
  }
  return ref;
}

// digest(a + b), or "" if OpenSSL fails (which then matches nothing).
std::string digest_concat(const EVP_MD* md, std::string_view a, std::string_view b) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), a.data(), a.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), b.data(), b.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

// ---- digest schemes: {SHA*}, {SSHA*}, {PLAIN-MD5}, {LDAP-MD5}, {SMD5}

// The raw digest (and salt) in a digest scheme's body. Unsalted digests
// may be hex without a suffix, as {PLAIN-MD5} and older tools write them;
// a hex digest is twice the digest's size, which base64 of it never is.
std::optional<std::string> decode_digest_body(PasswordScheme scheme, Encoding encoding,
                                              std::string_view body) {
  const size_t digest_len = digest_size(scheme);
  std::optional<std::string> raw;
  const bool hex =
      encoding == Encoding::kHex ||
      (encoding == Encoding::kDefault && !is_salted(scheme) && body.size() == digest_len * 2);
  raw = hex ? hex_decode(body) : base64_decode(body);
  if (!raw) return std::nullopt;
  if (is_salted(scheme)) {
    if (raw->size() <= digest_len || raw->size() > digest_len + kMaxSshaSaltBytes) {
      return std::nullopt;
    }
  } else if (raw->size() != digest_len) {
    return std::nullopt;
  }
  return raw;
}

bool digest_matches(PasswordScheme scheme, Encoding encoding, std::string_view body,
                    std::string_view password) {
  std::optional<std::string> raw = decode_digest_body(scheme, encoding, body);
  if (!raw) return false;
  const size_t digest_len = digest_size(scheme);
  std::string_view expected = std::string_view(*raw).substr(0, digest_len);
  std::string_view salt = std::string_view(*raw).substr(digest_len);
  SecretString computed(digest_concat(digest_of(scheme), password, salt));
  return constant_time_equal(expected, computed.view());
}

std::string encode_digest(PasswordScheme scheme, Encoding encoding, std::string_view raw) {
  // {PLAIN-MD5} is hex by default in Dovecot; every other digest base64.
  const bool hex = encoding == Encoding::kHex ||
                   (encoding == Encoding::kDefault && scheme == PasswordScheme::kMd5 &&
                    raw.size() == digest_size(scheme));
  return hex ? hex_lower(raw) : base64_encode(raw);
}

// ---- {PBKDF2}: "$1$salt$rounds$hex key", the salt used as written

struct Pbkdf2Body {
  std::string_view salt;
  unsigned long long rounds = 0;
  std::string key;
};

std::optional<Pbkdf2Body> parse_pbkdf2(std::string_view body) {
  const std::vector<std::string_view> f = split(body, '$');
  if (f.size() != 5 || !f[0].empty() || f[1] != "1" || f[2].empty()) return std::nullopt;
  std::optional<unsigned long long> rounds = parse_count(f[3], kMaxKdfIterations);
  std::optional<std::string> key = hex_decode(f[4]);
  if (!rounds || !key || key->size() != kPbkdf2KeyBytes) return std::nullopt;
  return Pbkdf2Body{f[2], *rounds, std::move(*key)};
}

// PBKDF2-HMAC(md) of `password`; "" if OpenSSL fails.
std::string pbkdf2(const EVP_MD* md, std::string_view password, std::string_view salt,
                   unsigned long long rounds, size_t key_len) {
  std::string out(key_len, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), static_cast<int>(rounds), md,
                        static_cast<int>(key_len),
                        reinterpret_cast<unsigned char*>(out.data())) != 1) {
    return {};
  }
  return out;
}

bool pbkdf2_matches(std::string_view body, std::string_view password) {
  std::optional<Pbkdf2Body> parsed = parse_pbkdf2(body);
  if (!parsed) return false;
  SecretString key(pbkdf2(EVP_sha1(), password, parsed->salt, parsed->rounds, kPbkdf2KeyBytes));
  return constant_time_equal(parsed->key, key.view());
}

std::string format_pbkdf2(std::string_view salt, unsigned long long rounds, std::string_view key) {
  return "$1$" + std::string(salt) + "$" + std::to_string(rounds) + "$" + hex_lower(key);
}

// ---- {SCRAM-SHA-*}: "iterations,salt,StoredKey,ServerKey" (base64)

struct ScramBody {
  unsigned long long iterations = 0;
  std::string salt;
  std::string stored_key;
};

std::optional<ScramBody> parse_scram(PasswordScheme scheme, std::string_view body) {
  const std::vector<std::string_view> f = split(body, ',');
  if (f.size() != 4) return std::nullopt;
  std::optional<unsigned long long> iterations = parse_count(f[0], kMaxKdfIterations);
  std::optional<std::string> salt = base64_decode(f[1]);
  std::optional<std::string> stored = base64_decode(f[2]);
  std::optional<std::string> server = base64_decode(f[3]);
  const size_t hash_len = digest_size(scheme);
  if (!iterations || !salt || salt->empty() || !stored || stored->size() != hash_len || !server ||
      server->size() != hash_len) {
    return std::nullopt;
  }
  return ScramBody{*iterations, std::move(*salt), std::move(*stored)};
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (HMAC(md, key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &len) == nullptr) {
    return {};
  }
  std::string result(reinterpret_cast<const char*>(out.data()), len);
  OPENSSL_cleanse(out.data(), out.size());
  return result;
}

// RFC 5802 3: SaltedPassword = Hi(password, salt, i), ClientKey =
// HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey); ServerKey
// = HMAC(SaltedPassword, "Server Key"). Empty strings if OpenSSL fails.
struct ScramKeys {
  SecretString stored_key;
  SecretString server_key;
};

ScramKeys scram_keys(PasswordScheme scheme, std::string_view password, std::string_view salt,
                     unsigned long long iterations) {
  const EVP_MD* md = digest_of(scheme);
  SecretString salted(pbkdf2(md, password, salt, iterations, digest_size(scheme)));
  if (salted.empty()) return {};
  SecretString client_key(hmac(md, salted.view(), "Client Key"));
  if (client_key.empty()) return {};
  return {SecretString(digest_concat(md, client_key.view(), "")),
          SecretString(hmac(md, salted.view(), "Server Key"))};
}

bool scram_matches(PasswordScheme scheme, std::string_view body, std::string_view password) {
  std::optional<ScramBody> parsed = parse_scram(scheme, body);
  if (!parsed) return false;
  ScramKeys keys = scram_keys(scheme, password, parsed->salt, parsed->iterations);
  return constant_time_equal(parsed->stored_key, keys.stored_key.view());
}

// ---- {ARGON2I}, {ARGON2ID}: "$argon2id$v=19$m=65536,t=3,p=1$salt$hash"

struct Argon2Body {
  argon2_type type = Argon2_id;
  uint32_t version = ARGON2_VERSION_13;
  uint32_t memory_kib = 0;
  uint32_t passes = 0;
  uint32_t lanes = 0;
  std::string salt;
  std::string hash;
};

argon2_type argon2_type_of(PasswordScheme scheme) {
  return scheme == PasswordScheme::kArgon2i ? Argon2_i : Argon2_id;
}

std::optional<Argon2Body> parse_argon2(PasswordScheme scheme, std::string_view body) {
  std::vector<std::string_view> f = split(body, '$');
  Argon2Body out;
  out.type = argon2_type_of(scheme);
  const std::string_view id = out.type == Argon2_i ? "argon2i" : "argon2id";
  if (f.size() < 5 || !f[0].empty() || f[1] != id) return std::nullopt;
  size_t next = 2;
  if (f[2].starts_with("v=")) {
    std::optional<unsigned long long> v = parse_count(f[2].substr(2), 0xff);
    if (!v || (*v != ARGON2_VERSION_10 && *v != ARGON2_VERSION_13)) return std::nullopt;
    out.version = static_cast<uint32_t>(*v);
    ++next;
  } else {
    // Strings from before version 1.3 carry no "v=".
    out.version = ARGON2_VERSION_10;
  }
  if (f.size() != next + 3) return std::nullopt;
  const std::vector<std::string_view> params = split(f[next], ',');
  if (params.size() != 3 || !params[0].starts_with("m=") || !params[1].starts_with("t=") ||
      !params[2].starts_with("p=")) {
    return std::nullopt;
  }
  std::optional<unsigned long long> m = parse_count(params[0].substr(2), kMaxArgon2MemoryKiB);
  std::optional<unsigned long long> t = parse_count(params[1].substr(2), kMaxArgon2Passes);
  std::optional<unsigned long long> p = parse_count(params[2].substr(2), kMaxArgon2Lanes);
  std::optional<std::string> salt = base64_unpadded_decode(f[next + 1]);
  std::optional<std::string> hash = base64_unpadded_decode(f[next + 2]);
  if (!m || !t || !p || !salt || !hash) return std::nullopt;
  // libargon2 needs 8 KiB of memory per lane at least.
  if (*m < 8 * *p) return std::nullopt;
  if (salt->size() < kMinArgon2SaltBytes || salt->size() > kMaxArgon2SaltBytes ||
      hash->size() < kMinArgon2HashBytes || hash->size() > kMaxArgon2HashBytes) {
    return std::nullopt;
  }
  out.memory_kib = static_cast<uint32_t>(*m);
  out.passes = static_cast<uint32_t>(*t);
  out.lanes = static_cast<uint32_t>(*p);
  out.salt = std::move(*salt);
  out.hash = std::move(*hash);
  return out;
}

// The raw Argon2 output for `params` (its salt and hash length), or "" if
// libargon2 refuses (say, out of memory). One thread whatever the lanes:
// the result is the same, and a worker must not start threads.
std::string argon2_raw(const Argon2Body& params, std::string_view password) {
  std::string out(params.hash.size(), '\0');
  argon2_context ctx{};
  ctx.out = reinterpret_cast<uint8_t*>(out.data());
  ctx.outlen = static_cast<uint32_t>(out.size());
  // libargon2 writes to pwd only with ARGON2_FLAG_CLEAR_PASSWORD, which is
  // not set; the password stays the caller's to wipe.
  ctx.pwd = reinterpret_cast<uint8_t*>(const_cast<char*>(password.data()));
  ctx.pwdlen = static_cast<uint32_t>(password.size());
  ctx.salt = reinterpret_cast<uint8_t*>(const_cast<char*>(params.salt.data()));
  ctx.saltlen = static_cast<uint32_t>(params.salt.size());
  ctx.t_cost = params.passes;
  ctx.m_cost = params.memory_kib;
  ctx.lanes = params.lanes;
  ctx.threads = 1;
  ctx.version = params.version;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  if (argon2_ctx(&ctx, params.type) != ARGON2_OK) {
    OPENSSL_cleanse(out.data(), out.size());
    return {};
  }
  return out;
}

bool argon2_matches(PasswordScheme scheme, std::string_view body, std::string_view password) {
  std::optional<Argon2Body> parsed = parse_argon2(scheme, body);
  if (!parsed) return false;
  SecretString computed(argon2_raw(*parsed, password));
  return constant_time_equal(parsed->hash, computed.view());
}

std::string format_argon2(const Argon2Body& b) {
  return std::string(b.type == Argon2_i ? "$argon2i$" : "$argon2id$") +
         "v=" + std::to_string(b.version) + "$m=" + std::to_string(b.memory_kib) +
         ",t=" + std::to_string(b.passes) + ",p=" + std::to_string(b.lanes) + "$" +
         base64_unpadded_encode(b.salt) + "$" + base64_unpadded_encode(b.hash);
}

// ---- crypt(3)

bool crypt_matches(std::string_view stored, std::string_view password) {
  SecretString phrase(password);
  SecretString setting(stored);
  CryptScratch scratch;
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), scratch.get(), scratch.size());
  // crypt_rn returns NULL on failure; "*..." is the failure token of
  // libcrypt builds that return one anyway.
  return out != nullptr && out[0] != '*' && constant_time_equal(stored, out);
}

Result<std::string> crypt_hash(std::string_view prefix, std::string_view password) {
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> salt{};
  std::string prefix_z(prefix);
  // count 0: the algorithm's default cost; NULL rbytes: libcrypt reads
  // the salt from the kernel's random source.
  if (crypt_gensalt_rn(prefix_z.c_str(), 0, nullptr, 0, salt.data(), salt.size()) == nullptr) {
    return Error::from_errno("crypt_gensalt " + prefix_z);
  }
  SecretString phrase(password);
  CryptScratch scratch;
  const char* out = crypt_rn(phrase.c_str(), salt.data(), scratch.get(), scratch.size());
  if (out == nullptr || out[0] == '*') return Error::from_errno("crypt " + prefix_z);
  return std::string(out);
}

struct CryptRecipe {
  std::string_view label;  // the scheme name written before the hash
  std::string_view id;     // the crypt_gensalt prefix
};

CryptRecipe crypt_recipe(std::string_view canonical_name) {
  if (canonical_name == "MD5-CRYPT" || canonical_name == "MD5") return {"MD5-CRYPT", "$1$"};
  if (canonical_name == "SHA256-CRYPT") return {"SHA256-CRYPT", "$5$"};
  // $2b$ is what libcrypt generates; the checks accept $2y$ too.
  if (canonical_name == "BLF-CRYPT") return {"BLF-CRYPT", "$2b$"};
  // Plain CRYPT names no algorithm; SHA512-CRYPT is Dovecot's advice.
  return {"SHA512-CRYPT", "$6$"};
}

// True when `body` can belong to `scheme` written with `encoding`.
bool body_fits(const SchemeName& scheme, Encoding encoding, std::string_view body) {
  const PasswordScheme s = scheme.scheme;
  switch (s) {
    case PasswordScheme::kPlain:
      return true;
    case PasswordScheme::kCrypt:
      return looks_like_crypt(body) &&
             (scheme.crypt_ids.size() == 0 || starts_with_any(body, scheme.crypt_ids));
    case PasswordScheme::kPbkdf2:
      return parse_pbkdf2(body).has_value();
    case PasswordScheme::kArgon2i:
    case PasswordScheme::kArgon2id:
      return parse_argon2(s, body).has_value();
    case PasswordScheme::kScramSha1:
    case PasswordScheme::kScramSha256:
      return parse_scram(s, body).has_value();
    case PasswordScheme::kUnsupported:
      return false;
    default:
      return is_digest(s) && decode_digest_body(s, encoding, body).has_value();
  }
}

// A parsed secret with what the public ParsedSecret leaves out.
struct Secret {
  ParsedSecret parsed;
  const SchemeName* scheme = nullptr;
  Encoding encoding = Encoding::kDefault;
};

Secret parse(std::string_view stored) {
  Secret secret;
  std::string_view name = "CRYPT";
  std::string_view body = stored;
  if (stored.starts_with('{')) {
    size_t close = stored.find('}');
    if (close == std::string_view::npos) return secret;
    name = stored.substr(1, close - 1);
    body = stored.substr(close + 1);
  }
  secret.parsed.scheme_name = name;
  secret.parsed.body = body;
  const SchemeRef ref = find_scheme_ref(name);
  if (ref.scheme == nullptr || !body_fits(*ref.scheme, ref.encoding, body)) return secret;
  secret.scheme = ref.scheme;
  secret.encoding = ref.encoding;
  secret.parsed.scheme = ref.scheme->scheme;
  return secret;
}

std::string_view encoding_suffix(Encoding encoding) {
  switch (encoding) {
    case Encoding::kHex:
      return ".HEX";
    case Encoding::kBase64:
      return ".B64";
    case Encoding::kDefault:
      break;
  }
  return {};
}

// The stored form of `password` in `scheme`, salted with `salt` (ignored
// by unsalted digests), for the non-crypt schemes. `model` gives the
// parameters of the iterated schemes.
Result<std::string> make_with(const SchemeName& scheme, Encoding encoding,
                              std::string_view password, const std::string& salt,
                              unsigned long long iterations, const Argon2Body* argon2) {
  const std::string prefix =
      "{" + std::string(scheme.name) + std::string(encoding_suffix(encoding)) + "}";
  const PasswordScheme s = scheme.scheme;
  if (is_digest(s)) {
    const std::string used_salt = is_salted(s) ? salt : std::string();
    SecretString digest(digest_concat(digest_of(s), password, used_salt));
    if (digest.empty()) return Error{"digest failed", 0};
    return prefix + encode_digest(s, encoding, std::string(digest.view()) + used_salt);
  }
  switch (s) {
    case PasswordScheme::kPbkdf2: {
      SecretString key(pbkdf2(EVP_sha1(), password, salt, iterations, kPbkdf2KeyBytes));
      if (key.empty()) return Error{"PBKDF2 failed", 0};
      return prefix + format_pbkdf2(salt, iterations, key.view());
    }
    case PasswordScheme::kScramSha1:
    case PasswordScheme::kScramSha256: {
      ScramKeys keys = scram_keys(s, password, salt, iterations);
      if (keys.stored_key.empty() || keys.server_key.empty()) return Error{"SCRAM failed", 0};
      return prefix + std::to_string(iterations) + "," + base64_encode(salt) + "," +
             base64_encode(keys.stored_key.view()) + "," + base64_encode(keys.server_key.view());
    }
    case PasswordScheme::kArgon2i:
    case PasswordScheme::kArgon2id: {
      Argon2Body body = *argon2;
      body.salt = salt;
      body.hash.assign(argon2->hash.size(), '\0');
      std::string raw = argon2_raw(body, password);
      if (raw.empty()) return Error{"argon2 failed (out of memory?)", 0};
      body.hash = std::move(raw);
      return prefix + format_argon2(body);
    }
    default:
      break;
  }
  return Error{"unknown password scheme", 0};
}

// Characters for {PBKDF2}'s salt, which Dovecot keeps as text.
std::string random_salt_chars(size_t n) {
  static constexpr char kAlphabet[] =
      "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string bytes;
  if (!random_fill(bytes, n)) return {};
  std::string out(n, '.');
  // 64 symbols: a byte's low 6 bits pick one without bias.
  for (size_t i = 0; i < n; ++i) out[i] = kAlphabet[static_cast<unsigned char>(bytes[i]) & 63];
  return out;
}

}  // namespace

ParsedSecret parse_secret(std::string_view stored) {
  return parse(stored).parsed;
}

bool is_known_scheme(std::string_view name) {
  return find_scheme_ref(name).scheme != nullptr;
}

bool verify_password(std::string_view stored, std::string_view password) {
  if (password.find('\0') != std::string_view::npos) return false;
  const Secret secret = parse(stored);
  const ParsedSecret& parsed = secret.parsed;
  switch (parsed.scheme) {
    case PasswordScheme::kPlain:
      return constant_time_equal(parsed.body, password);
    case PasswordScheme::kCrypt:
      return crypt_matches(parsed.body, password);
    case PasswordScheme::kSha256:
    case PasswordScheme::kSsha256:
    case PasswordScheme::kSha512:
    case PasswordScheme::kSsha512:
    case PasswordScheme::kSha1:
    case PasswordScheme::kSsha1:
    case PasswordScheme::kMd5:
    case PasswordScheme::kSmd5:
      return digest_matches(parsed.scheme, secret.encoding, parsed.body, password);
    case PasswordScheme::kPbkdf2:
      return pbkdf2_matches(parsed.body, password);
    case PasswordScheme::kArgon2i:
    case PasswordScheme::kArgon2id:
      return argon2_matches(parsed.scheme, parsed.body, password);
    case PasswordScheme::kScramSha1:
    case PasswordScheme::kScramSha256:
      return scram_matches(parsed.scheme, parsed.body, password);
    case PasswordScheme::kUnsupported:
      return false;
  }
  return false;
}

std::string verification_cost_class(std::string_view stored) {
  const ParsedSecret parsed = parse_secret(stored);
  switch (parsed.scheme) {
    case PasswordScheme::kPlain:
      return "plain";
    case PasswordScheme::kSha256:
    case PasswordScheme::kSsha256:
    case PasswordScheme::kSha512:
    case PasswordScheme::kSsha512:
    case PasswordScheme::kSha1:
    case PasswordScheme::kSsha1:
    case PasswordScheme::kMd5:
    case PasswordScheme::kSmd5:
      return "digest";
    case PasswordScheme::kPbkdf2:
      return "pbkdf2:" + std::to_string(parse_pbkdf2(parsed.body)->rounds);
    case PasswordScheme::kScramSha1:
    case PasswordScheme::kScramSha256: {
      const char* label =
          parsed.scheme == PasswordScheme::kScramSha1 ? "scram-sha-1:" : "scram-sha-256:";
      return label + std::to_string(parse_scram(parsed.scheme, parsed.body)->iterations);
    }
    case PasswordScheme::kArgon2i:
    case PasswordScheme::kArgon2id: {
      const Argon2Body b = *parse_argon2(parsed.scheme, parsed.body);
      return std::string(b.type == Argon2_i ? "argon2i:" : "argon2id:") +
             "v=" + std::to_string(b.version) + ",m=" + std::to_string(b.memory_kib) +
             ",t=" + std::to_string(b.passes) + ",p=" + std::to_string(b.lanes);
    }
    case PasswordScheme::kUnsupported:
      return "unsupported";
    case PasswordScheme::kCrypt:
      break;
  }
  std::string_view body = parsed.body;
  if (!body.starts_with('$')) return "crypt:des";
  // "$id$" then, for the costly ones, "rounds=N$" (SHA-crypt) or "NN$"
  // (bcrypt); the salt that follows does not change the cost.
  const size_t id_end = body.find('$', 1);
  if (id_end == std::string_view::npos) return "crypt:?";
  std::string_view label = body.substr(0, id_end + 1);
  std::string_view rest = body.substr(id_end + 1);
  const size_t param_end = rest.find('$');
  if (param_end != std::string_view::npos) {
    std::string_view param = rest.substr(0, param_end);
    const bool is_cost =
        param.starts_with("rounds=") ||
        (!param.empty() && param.size() <= 2 &&
         std::all_of(param.begin(), param.end(), [](char c) { return c >= '0' && c <= '9'; }));
    if (is_cost) return "crypt:" + std::string(label) + std::string(param);
  }
  return "crypt:" + std::string(label);
}

bool is_plaintext_recoverable(std::string_view stored) {
  return parse_secret(stored).scheme == PasswordScheme::kPlain;
}

std::string_view plaintext_secret(std::string_view stored) {
  ParsedSecret parsed = parse_secret(stored);
  return parsed.scheme == PasswordScheme::kPlain ? parsed.body : std::string_view{};
}

std::string apop_digest(std::string_view timestamp, std::string_view secret) {
  SecretString raw(digest_concat(EVP_md5(), timestamp, secret));
  return hex_lower(raw.view());
}

bool verify_apop(std::string_view stored, std::string_view timestamp, std::string_view digest) {
  if (digest.size() != kApopDigestHexChars) return false;
  std::string given(digest);
  std::transform(given.begin(), given.end(), given.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  ParsedSecret parsed = parse_secret(stored);
  if (parsed.scheme != PasswordScheme::kPlain) return false;
  std::string expected = apop_digest(timestamp, parsed.body);
  return constant_time_equal(expected, given);
}

bool constant_time_equal(std::string_view expected, std::string_view given) {
  // When the lengths differ, compare `given` with itself, so the work is
  // the same as for a real comparison of given.size() bytes.
  const bool same_size = expected.size() == given.size();
  const char* reference = same_size ? expected.data() : given.data();
  const int diff = given.empty() ? 0 : CRYPTO_memcmp(reference, given.data(), given.size());
  return same_size & (diff == 0);
}

Result<std::string> make_password_hash(std::string_view scheme_name, std::string_view password) {
  if (password.find('\0') != std::string_view::npos) {
    return Error{"a password cannot contain NUL bytes", 0};
  }
  const SchemeRef ref = find_scheme_ref(scheme_name);
  if (ref.scheme == nullptr) return Error{"unknown password scheme", 0};
  const SchemeName& scheme = *ref.scheme;
  switch (scheme.scheme) {
    case PasswordScheme::kPlain:
      return "{" + std::string(scheme.name) + "}" + std::string(password);
    case PasswordScheme::kCrypt: {
      CryptRecipe recipe = crypt_recipe(scheme.name);
      Result<std::string> hash = crypt_hash(recipe.id, password);
      if (!hash) return hash.error();
      return "{" + std::string(recipe.label) + "}" + *hash;
    }
    case PasswordScheme::kUnsupported:
      return Error{"unknown password scheme", 0};
    default:
      break;
  }
  std::string salt;
  unsigned long long iterations = 0;
  Argon2Body argon2;
  switch (scheme.scheme) {
    case PasswordScheme::kPbkdf2:
      salt = random_salt_chars(kPbkdf2SaltChars);
      if (salt.empty()) return Error{"no random bytes for a salt", 0};
      iterations = kPbkdf2DefaultRounds;
      break;
    case PasswordScheme::kScramSha1:
    case PasswordScheme::kScramSha256:
      if (!random_fill(salt, kScramSaltBytes)) return Error{"no random bytes for a salt", 0};
      iterations = kScramDefaultIterations;
      break;
    case PasswordScheme::kArgon2i:
    case PasswordScheme::kArgon2id: {
      const bool i = scheme.scheme == PasswordScheme::kArgon2i;
      argon2.type = i ? Argon2_i : Argon2_id;
      argon2.version = ARGON2_VERSION_13;
      argon2.memory_kib = i ? kArgon2iDefaultMemoryKiB : kArgon2idDefaultMemoryKiB;
      argon2.passes = i ? kArgon2iDefaultPasses : kArgon2idDefaultPasses;
      argon2.lanes = 1;
      argon2.hash.assign(kArgon2HashBytes, '\0');
      if (!random_fill(salt, kArgon2SaltBytes)) return Error{"no random bytes for a salt", 0};
      break;
    }
    default:
      if (is_salted(scheme.scheme) && !random_fill(salt, kSshaSaltBytes)) {
        return Error{"no random bytes for a salt", 0};
      }
      break;
  }
  return make_with(scheme, ref.encoding, password, salt, iterations, &argon2);
}

Result<std::string> make_password_hash_like(std::string_view model, std::string_view password) {
  if (password.find('\0') != std::string_view::npos) {
    return Error{"a password cannot contain NUL bytes", 0};
  }
  const Secret secret = parse(model);
  if (secret.scheme == nullptr) return Error{"the model's scheme is not supported", 0};
  const SchemeName& scheme = *secret.scheme;
  const std::string_view body = secret.parsed.body;
  std::string salt;
  unsigned long long iterations = 0;
  Argon2Body argon2;
  switch (scheme.scheme) {
    case PasswordScheme::kPlain:
      return "{" + std::string(scheme.name) + "}" + std::string(password);
    case PasswordScheme::kCrypt:
      return Error{"a crypt(3) model: its cost is in the crypt setting", 0};
    case PasswordScheme::kUnsupported:
      return Error{"the model's scheme is not supported", 0};
    case PasswordScheme::kPbkdf2: {
      const Pbkdf2Body p = *parse_pbkdf2(body);
      salt = random_salt_chars(p.salt.size());
      if (salt.empty()) return Error{"no random bytes for a salt", 0};
      iterations = p.rounds;
      break;
    }
    case PasswordScheme::kScramSha1:
    case PasswordScheme::kScramSha256: {
      const ScramBody p = *parse_scram(scheme.scheme, body);
      if (!random_fill(salt, p.salt.size())) return Error{"no random bytes for a salt", 0};
      iterations = p.iterations;
      break;
    }
    case PasswordScheme::kArgon2i:
    case PasswordScheme::kArgon2id:
      argon2 = *parse_argon2(scheme.scheme, body);
      if (!random_fill(salt, argon2.salt.size())) return Error{"no random bytes for a salt", 0};
      break;
    default: {
      // A salted digest: a salt as long as the model's.
      const std::string raw = *decode_digest_body(scheme.scheme, secret.encoding, body);
      const size_t salt_len = raw.size() - digest_size(scheme.scheme);
      if (salt_len > 0 && !random_fill(salt, salt_len)) {
        return Error{"no random bytes for a salt", 0};
      }
      break;
    }
  }
  return make_with(scheme, secret.encoding, password, salt, iterations, &argon2);
}

std::string hash_password(std::string_view scheme, std::string_view password) {
  Result<std::string> hash = make_password_hash(scheme, password);
  return hash ? std::move(hash).value() : std::string();
}

}  // namespace pop3d
