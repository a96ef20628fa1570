// Shared storage: Maildirs on a file system that several hosts mount (NFS,
// GlusterFS and other FUSE file systems, CephFS, SMB). Each host's client
// caches attributes: a directory another node just changed can show its old
// modification time here for a second or more, while a listing already
// shows the change. So on such storage pop3d.index never stands in for a
// listing (each login lists both folders; sizes still come from the index),
// and the index's rename is made durable with the rest of the commit.
#pragma once

#include <string>

#include "util/result.hpp"

namespace pop3d {

// mailstore.shared_storage: "auto" looks at each maildrop's file system.
enum class SharedStorage { kAuto, kYes, kNo };

Result<SharedStorage> parse_shared_storage(const std::string& text);

// Whether the file system holding `fd` is one whose clients cache
// attributes across hosts (statfs type NFS, FUSE, Ceph, SMB/CIFS, AFS).
// A failing statfs answers true: listing is always safe.
bool on_shared_file_system(int fd);

// The answer for a maildrop whose root is `fd`.
bool storage_is_shared(SharedStorage setting, int fd);

}  // namespace pop3d
