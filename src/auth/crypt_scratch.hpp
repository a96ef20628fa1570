// CryptScratch: the 32 KiB work area crypt_rn() needs, in pages of its own.
//
// A worker hashes a password once per login. Taken from the heap, the work
// area would leave eight dirty pages behind in every one of hundreds of
// pre-forked workers (freed memory stays resident), and a copy of hash
// state in memory that is reused later. Mapped for the one call and unmapped
// right after, it is wiped and given back to the kernel: a logged-in idle
// worker stays small, and nothing of the hash lingers or reaches a core dump.
#pragma once

#include <crypt.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include <memory>

namespace pop3d {

class CryptScratch {
 public:
  CryptScratch() {
    void* p = ::mmap(nullptr, sizeof(crypt_data), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      ::madvise(p, sizeof(crypt_data), MADV_DONTDUMP);
      mapped_ = static_cast<crypt_data*>(p);  // zero-filled, as crypt_rn requires
    } else {
      fallback_ = std::make_unique<crypt_data>();  // value-initialised: zeroed
    }
  }
  CryptScratch(const CryptScratch&) = delete;
  CryptScratch& operator=(const CryptScratch&) = delete;
  ~CryptScratch() {
    OPENSSL_cleanse(get(), sizeof(crypt_data));
    if (mapped_ != nullptr) ::munmap(mapped_, sizeof(crypt_data));
  }

  crypt_data* get() const { return mapped_ != nullptr ? mapped_ : fallback_.get(); }
  static constexpr int size() { return static_cast<int>(sizeof(crypt_data)); }

 private:
  crypt_data* mapped_ = nullptr;
  std::unique_ptr<crypt_data> fallback_;
};

}  // namespace pop3d
