// SharedMapping: owns one mmap'ed region and unmaps it when it goes out of
// scope. The shared-memory tables live in such regions, mapped by the
// master before it forks so that every worker sees the same bytes.
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
