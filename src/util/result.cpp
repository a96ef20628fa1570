#include "util/result.hpp"

#include <cstring>

namespace pop3d {

Error Error::from_errno(std::string what, int err) {
  return Error{what + ": " + std::strerror(err), err};
}

}  // namespace pop3d
