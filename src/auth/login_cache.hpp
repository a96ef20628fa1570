// LoginCache: remembers for a few minutes that a user just logged in with a
// given password, so a client that polls every minute does not cost a full
// crypt(3) (several milliseconds of CPU by design) at every login. Dovecot's
// auth cache does the same for the same reason.
//
// What is kept is an HMAC (a key random to this process tree) over the user,
// the stored secret and the password: never the password, and never enough
// to test a password guess without the key. The stored secret is part of
// the key, so changing a password in the file retires its cache entries at
// once. Only successes are cached: every wrong password pays the full price.
//
// The HMAC context is keyed once, in the master before it forks, and only
// re-initialised per login. A one-shot HMAC() in a worker would look the
// algorithms up in OpenSSL's shared tables every time, writing to locks and
// reference counts on some twenty heap pages the master shares with every
// worker: each worker would then own private copies of those pages.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pop3d {

class LoginCache {
 public:
  using Clock = std::chrono::steady_clock;

  LoginCache(std::chrono::seconds ttl, size_t capacity);

  bool contains(std::string_view user, std::string_view secret, std::string_view password,
                Clock::time_point now = Clock::now()) const;
  void remember(std::string_view user, std::string_view secret, std::string_view password,
                Clock::time_point now = Clock::now());
  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

 private:
  std::string digest(std::string_view user, std::string_view secret,
                     std::string_view password) const;

  std::chrono::seconds ttl_;
  size_t capacity_;
  struct MacCtxFree {
    void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
  };
  // Keyed with a random key; null when no key could be had, which turns the
  // cache off.
  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> mac_;
  std::unordered_map<std::string, Clock::time_point> entries_;  // digest -> expiry
};

}  // namespace pop3d
