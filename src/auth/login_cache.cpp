#include "auth/login_cache.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>

namespace pop3d {

LoginCache::LoginCache(std::chrono::seconds ttl, size_t capacity) : ttl_(ttl), capacity_(capacity) {
  // Without a key the cache would be a table of unsalted password hashes;
  // then it is better to have no cache.
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) capacity_ = 0;
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
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len);
  OPENSSL_cleanse(message.data(), message.size());
  return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

bool LoginCache::contains(std::string_view user, std::string_view secret, std::string_view password,
                          Clock::time_point now) const {
  if (capacity_ == 0 || ttl_.count() <= 0) return false;
  auto it = entries_.find(digest(user, secret, password));
  return it != entries_.end() && now < it->second;
}

void LoginCache::remember(std::string_view user, std::string_view secret, std::string_view password,
                          Clock::time_point now) {
  if (capacity_ == 0 || ttl_.count() <= 0) return;
  if (entries_.size() >= capacity_) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = now >= it->second ? entries_.erase(it) : std::next(it);
    }
    // Still full of live entries: start over rather than grow.
    if (entries_.size() >= capacity_) entries_.clear();
  }
  entries_[digest(user, secret, password)] = now + ttl_;
}

}  // namespace pop3d
