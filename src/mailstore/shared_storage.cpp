#include "mailstore/shared_storage.hpp"

#include <sys/vfs.h>

#include <cstdint>

namespace pop3d {

namespace {

// From linux/magic.h and the file systems' own headers; spelled out here so
// that the build does not depend on which of them the headers define.
constexpr uint32_t kNfs = 0x6969;
constexpr uint32_t kFuse = 0x65735546;  // GlusterFS, CephFS's ceph-fuse, sshfs...
constexpr uint32_t kCeph = 0x00c36400;
constexpr uint32_t kSmb = 0x517b;
constexpr uint32_t kCifs = 0xff534d42;
constexpr uint32_t kSmb2 = 0xfe534d42;
constexpr uint32_t kAfs = 0x5346414f;
constexpr uint32_t kKafs = 0x6b414653;

}  // namespace

Result<SharedStorage> parse_shared_storage(const std::string& text) {
  if (text == "auto") return SharedStorage::kAuto;
  if (text == "yes") return SharedStorage::kYes;
  if (text == "no") return SharedStorage::kNo;
  return Error{"\"" + text + "\" is not auto, yes or no"};
}

bool on_shared_file_system(int fd) {
  struct statfs fs;
  if (::fstatfs(fd, &fs) != 0) return true;
  switch (static_cast<uint32_t>(fs.f_type)) {
    case kNfs:
    case kFuse:
    case kCeph:
    case kSmb:
    case kCifs:
    case kSmb2:
    case kAfs:
    case kKafs:
      return true;
    default:
      return false;
  }
}

bool storage_is_shared(SharedStorage setting, int fd) {
  switch (setting) {
    case SharedStorage::kYes:
      return true;
    case SharedStorage::kNo:
      return false;
    case SharedStorage::kAuto:
      break;
  }
  return on_shared_file_system(fd);
}

}  // namespace pop3d
