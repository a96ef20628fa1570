#include "auth/password_scheme.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <optional>

#include "auth/crypt_scratch.hpp"
#include "auth/secret_string.hpp"

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

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict RFC 4648 base64 with padding, as Dovecot writes it.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  if (in.ends_with("==")) {
    pad = 2;
  } else if (in.ends_with('=')) {
    pad = 1;
  }
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    unsigned int quad = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = in[i + j];
      int v = 0;
      if (c == '=') {
        if (i + 4 != in.size() || j < 4 - pad) return std::nullopt;
      } else {
        v = base64_value(c);
        if (v < 0) return std::nullopt;
      }
      quad = (quad << 6) | static_cast<unsigned int>(v);
    }
    out.push_back(static_cast<char>((quad >> 16) & 0xff));
    out.push_back(static_cast<char>((quad >> 8) & 0xff));
    out.push_back(static_cast<char>(quad & 0xff));
  }
  out.resize(out.size() - pad);
  return out;
}

std::string base64_encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    unsigned int n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? kAlphabet[n & 63] : '=');
  }
  return out;
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

std::string hex_lower(std::string_view in) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(in.size() * 2);
  for (unsigned char c : in) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

const EVP_MD* digest_of(PasswordScheme scheme) {
  switch (scheme) {
    case PasswordScheme::kSha256:
    case PasswordScheme::kSsha256:
      return EVP_sha256();
    case PasswordScheme::kSha512:
    case PasswordScheme::kSsha512:
      return EVP_sha512();
    default:
      return nullptr;
  }
}

bool is_salted(PasswordScheme scheme) {
  return scheme == PasswordScheme::kSsha256 || scheme == PasswordScheme::kSsha512;
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

// The raw digest (and salt) in a {SHA*}/{SSHA*} body. {SHA*} may be hex,
// as older tools wrote it; the lengths never collide with base64.
std::optional<std::string> decode_digest_body(PasswordScheme scheme, std::string_view body) {
  const size_t digest_len = static_cast<size_t>(EVP_MD_get_size(digest_of(scheme)));
  std::optional<std::string> raw;
  if (!is_salted(scheme) && body.size() == digest_len * 2) {
    raw = hex_decode(body);
  } else {
    raw = base64_decode(body);
  }
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
  };
  for (const SchemeName& s : kSchemes) {
    if (iequals(s.name, name)) return &s;
  }
  return nullptr;
}

bool crypt_matches(std::string_view stored, std::string_view password) {
  SecretString phrase(password);
  SecretString setting(stored);
  CryptScratch scratch;
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), scratch.get(), scratch.size());
  // crypt_rn returns NULL on failure; "*..." is the failure token of
  // libcrypt builds that return one anyway.
  return out != nullptr && out[0] != '*' && constant_time_equal(stored, out);
}

bool digest_matches(PasswordScheme scheme, std::string_view body, std::string_view password) {
  std::optional<std::string> raw = decode_digest_body(scheme, body);
  if (!raw) return false;
  const EVP_MD* md = digest_of(scheme);
  const size_t digest_len = static_cast<size_t>(EVP_MD_get_size(md));
  std::string_view expected = std::string_view(*raw).substr(0, digest_len);
  std::string_view salt = std::string_view(*raw).substr(digest_len);
  SecretString computed(digest_concat(md, password, salt));
  return constant_time_equal(expected, computed.view());
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

}  // namespace

ParsedSecret parse_secret(std::string_view stored) {
  ParsedSecret parsed;
  std::string_view name = "CRYPT";
  std::string_view body = stored;
  if (stored.starts_with('{')) {
    size_t close = stored.find('}');
    if (close == std::string_view::npos) return parsed;
    name = stored.substr(1, close - 1);
    body = stored.substr(close + 1);
  }
  parsed.scheme_name = name;
  parsed.body = body;
  const SchemeName* scheme = find_scheme(name);
  if (scheme == nullptr) return parsed;
  switch (scheme->scheme) {
    case PasswordScheme::kPlain:
      break;
    case PasswordScheme::kCrypt:
      if (!looks_like_crypt(body)) return parsed;
      if (scheme->crypt_ids.size() > 0 && !starts_with_any(body, scheme->crypt_ids)) return parsed;
      break;
    default:
      if (!decode_digest_body(scheme->scheme, body)) return parsed;
      break;
  }
  parsed.scheme = scheme->scheme;
  return parsed;
}

bool is_known_scheme(std::string_view name) {
  return find_scheme(name) != nullptr;
}

bool verify_password(std::string_view stored, std::string_view password) {
  if (password.find('\0') != std::string_view::npos) return false;
  ParsedSecret parsed = parse_secret(stored);
  switch (parsed.scheme) {
    case PasswordScheme::kPlain:
      return constant_time_equal(parsed.body, password);
    case PasswordScheme::kCrypt:
      return crypt_matches(parsed.body, password);
    case PasswordScheme::kSha256:
    case PasswordScheme::kSsha256:
    case PasswordScheme::kSha512:
    case PasswordScheme::kSsha512:
      return digest_matches(parsed.scheme, parsed.body, password);
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
      return "digest";
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
  const SchemeName* scheme = find_scheme(scheme_name);
  if (scheme == nullptr) return Error{"unknown password scheme", 0};
  std::string prefix = "{" + std::string(scheme->name) + "}";
  switch (scheme->scheme) {
    case PasswordScheme::kPlain:
      return prefix + std::string(password);
    case PasswordScheme::kCrypt: {
      CryptRecipe recipe = crypt_recipe(scheme->name);
      Result<std::string> hash = crypt_hash(recipe.id, password);
      if (!hash) return hash.error();
      return "{" + std::string(recipe.label) + "}" + *hash;
    }
    case PasswordScheme::kSha256:
    case PasswordScheme::kSsha256:
    case PasswordScheme::kSha512:
    case PasswordScheme::kSsha512: {
      std::string salt;
      if (is_salted(scheme->scheme)) {
        std::array<unsigned char, kSshaSaltBytes> bytes{};
        if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
          return Error{"no random bytes for a salt", 0};
        }
        salt.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      }
      std::string digest = digest_concat(digest_of(scheme->scheme), password, salt);
      if (digest.empty()) return Error{"digest failed", 0};
      return prefix + base64_encode(digest + salt);
    }
    case PasswordScheme::kUnsupported:
      break;
  }
  return Error{"unknown password scheme", 0};
}

std::string hash_password(std::string_view scheme, std::string_view password) {
  Result<std::string> hash = make_password_hash(scheme, password);
  return hash ? std::move(hash).value() : std::string();
}

}  // namespace pop3d
