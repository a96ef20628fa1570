// LinkHealth: whether this node last found Redis up or down, in a small
// shared mapping the master makes before it forks, so that of all the
// workers only the one that flips it logs: the node says once that Redis
// went and once that it came back, not once per worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "util/result.hpp"
#include "util/shared_mapping.hpp"

namespace pop3d {

class LinkHealth {
 public:
  static Result<std::shared_ptr<LinkHealth>> create();

  // True for the one caller that changed the state: it is the one to log.
  bool mark_down() { return flip(kUp, kDown); }
  bool mark_up() { return flip(kDown, kUp); }
  bool down() const;

  explicit LinkHealth(SharedMapping mapping) : mapping_(std::move(mapping)) {}

 private:
  static constexpr uint32_t kUp = 0;  // the mapping starts zeroed: up until seen down
  static constexpr uint32_t kDown = 1;
  std::atomic<uint32_t>* state() const;
  bool flip(uint32_t from, uint32_t to);

  SharedMapping mapping_;
};

}  // namespace pop3d
