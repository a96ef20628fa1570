#include "auth/login_cache.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>

namespace pop3d {

LoginCache::LoginCache(std::chrono::seconds ttl, size_t capacity) : ttl_(ttl), capacity_(capacity) {
  // Without a key the cache would be a table of unsalted password hashes;
  // then it is better to have no cache.
  std::array<unsigned char, 32> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) == 1) {
    EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (hmac != nullptr) {
      mac_.reset(EVP_MAC_CTX_new(hmac));
      EVP_MAC_free(hmac);  // the context holds its own reference
    }
    char digest_name[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end()};
    if (mac_ && EVP_MAC_init(mac_.get(), key.data(), key.size(), params) != 1) mac_.reset();
  }
  OPENSSL_cleanse(key.data(), key.size());
  if (!mac_) capacity_ = 0;
}

std::string LoginCache::digest(std::string_view user, std::string_view secret,
                               std::string_view password) const {
  // Lengths first, so that ("ab", "c") and ("a", "bc") differ.
  std::string message;
  for (std::string_view part : {user, secret, password}) {
    message += std::to_string(part.size());
    message += ':';
    message.append(part.data(), part.size());
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  size_t mac_len = 0;
  // A null key re-initialises with the key set in the constructor.
  const bool ok = EVP_MAC_init(mac_.get(), nullptr, 0, nullptr) == 1 &&
                  EVP_MAC_update(mac_.get(), reinterpret_cast<const unsigned char*>(message.data()),
                                 message.size()) == 1 &&
                  EVP_MAC_final(mac_.get(), mac.data(), &mac_len, mac.size()) == 1;
  OPENSSL_cleanse(message.data(), message.size());
  // An empty digest is never stored (remember() checks), so a failure can
  // only cost a cache miss.
  return ok ? std::string(reinterpret_cast<const char*>(mac.data()), mac_len) : std::string();
}

bool LoginCache::contains(std::string_view user, std::string_view secret, std::string_view password,
                          Clock::time_point now) const {
  if (capacity_ == 0 || ttl_.count() <= 0) return false;
  const std::string key = digest(user, secret, password);
  if (key.empty()) return false;
  auto it = entries_.find(key);
  return it != entries_.end() && now < it->second;
}

void LoginCache::remember(std::string_view user, std::string_view secret, std::string_view password,
                          Clock::time_point now) {
  if (capacity_ == 0 || ttl_.count() <= 0) return;
  std::string key = digest(user, secret, password);
  if (key.empty()) return;
  if (entries_.size() >= capacity_) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = now >= it->second ? entries_.erase(it) : std::next(it);
    }
    // Still full of live entries: start over rather than grow.
    if (entries_.size() >= capacity_) entries_.clear();
  }
  entries_[std::move(key)] = now + ttl_;
}

}  // namespace pop3d
