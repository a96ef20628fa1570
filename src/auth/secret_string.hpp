// SecretString: a std::string holding a password or a password hash that
// is overwritten before its memory is given back, so secrets do not linger
// in freed heap blocks that a later bug could read or a core dump show.
#pragma once

#include <openssl/crypto.h>

#include <string>
#include <string_view>
#include <utility>

namespace pop3d {

class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string_view s) : s_(s) {}
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  // Copies rather than moves: a moved-from std::string may keep the bytes
  // in its small-string buffer, which wipe() then clears.
  SecretString(SecretString&& other) noexcept : s_(other.s_) { other.wipe(); }
  SecretString& operator=(SecretString&& other) noexcept {
    if (this != &other) {
      wipe();
      s_ = other.s_;
      other.wipe();
    }
    return *this;
  }
  ~SecretString() { wipe(); }

  std::string_view view() const { return s_; }
  const char* c_str() const { return s_.c_str(); }
  bool empty() const { return s_.empty(); }

  void wipe() {
    // capacity(), not size(): earlier, longer contents may still be there.
    if (s_.capacity() > 0) OPENSSL_cleanse(s_.data(), s_.capacity());
    s_.clear();
  }

 private:
  std::string s_;
};

}  // namespace pop3d
