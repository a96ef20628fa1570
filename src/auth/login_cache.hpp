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
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
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
  std::array<unsigned char, 32> key_{};
  std::unordered_map<std::string, Clock::time_point> entries_;  // digest -> expiry
};

}  // namespace pop3d
