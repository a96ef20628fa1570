#include "sharedstate/link_health.hpp"

#include <sys/mman.h>
#include <unistd.h>

namespace pop3d {

static_assert(std::atomic<uint32_t>::is_always_lock_free,
              "a lock-free atomic works across processes");

Result<std::shared_ptr<LinkHealth>> LinkHealth::create() {
  const size_t size = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return Error::from_errno("cannot map the shared-state health flag");
  auto health = std::make_shared<LinkHealth>(SharedMapping(base, size));
  new (health->mapping_.get()) std::atomic<uint32_t>(kUp);
  return health;
}

std::atomic<uint32_t>* LinkHealth::state() const {
  return mapping_.array_at<std::atomic<uint32_t>>(0, 1);
}

bool LinkHealth::flip(uint32_t from, uint32_t to) {
  uint32_t expected = from;
  return state()->compare_exchange_strong(expected, to);
}

bool LinkHealth::down() const {
  return state()->load() == kDown;
}

}  // namespace pop3d
