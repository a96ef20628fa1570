// SharedMapping: owns one mmap'ed region and unmaps it when it goes out of
// scope. The shared-memory tables live in such regions, mapped by the
// master before it forks so that every worker sees the same bytes.
//
// Any worker can write any byte of such a region, so a table never takes
// its own size from it: it asks array_at() for its parts, which checks them
// against the size this process recorded when it mapped the region.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <utility>

namespace pop3d {

class SharedMapping {
 public:
  SharedMapping() = default;
  SharedMapping(void* base, size_t size) : base_(base), size_(size) {}
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  SharedMapping(SharedMapping&& o) noexcept
      : base_(std::exchange(o.base_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  SharedMapping& operator=(SharedMapping&& o) noexcept {
    if (this != &o) {
      reset();
      base_ = std::exchange(o.base_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~SharedMapping() { reset(); }

  void* get() const { return base_; }
  size_t size() const { return size_; }
  explicit operator bool() const { return base_ != nullptr; }

  // `count` objects of type T starting `offset` bytes in, or null when they
  // would not fit in the mapping.
  template <class T>
  T* array_at(size_t offset, size_t count) const {
    if (base_ == nullptr || offset > size_ || count > (size_ - offset) / sizeof(T)) return nullptr;
    return reinterpret_cast<T*>(static_cast<char*>(base_) + offset);
  }

  void reset() {
    if (base_ != nullptr) ::munmap(base_, size_);
    base_ = nullptr;
    size_ = 0;
  }

 private:
  void* base_ = nullptr;
  size_t size_ = 0;
};

}  // namespace pop3d
