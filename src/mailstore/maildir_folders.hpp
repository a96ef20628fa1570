// The Maildir's folders as files: listing cur/ and new/, creating a
// Maildir, moving a message into cur/, measuring a message, and the clock
// readings the listing stamps are compared with. Shared by the snapshot,
// the commit and the store (maildir_maildrop.hpp); nothing here knows of
// sessions or UIDLs.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mailstore/maildir_index.hpp"
#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d::maildir {

// Directories pop3d creates hold one user's private mail.
inline constexpr mode_t kMaildirMode = 0700;
// Reads that size a message: large enough that a typical message takes one
// read, small enough to stay in cache.
inline constexpr size_t kSizeReadChunk = 64 * 1024;
// Each message costs ~100 bytes of session memory and a line of LIST; past
// this a maildrop is damage or abuse, and the rest waits for a later session.
inline constexpr size_t kMaxMaildropMessages = 500'000;

// One directory entry of a listing: its name lives in a shared arena, so a
// listing of 20,000 messages costs a few allocations, not 20,000.
struct ListedName {
  uint32_t offset = 0;
  uint32_t length = 0;
  bool in_new = false;
};

// Appends the names of the regular, non-dot files in `dir_fd` to `arena` /
// `out`. Anything else (subdirectories, symlinks, devices) is skipped with a
// log line unless `quiet`; at most `limit` names in `out` in all. Sets
// `truncated` when names were left out for the limit.
Status list_files(int dir_fd, const std::string& dir_label, size_t limit, bool quiet, bool in_new,
                  std::string& arena, std::vector<ListedName>& out, bool& truncated);

// Creates `path` and any missing parents, like mkdir -p.
Status make_dirs(const std::string& path);

Result<UniqueFd> open_dir_at(int dir_fd, const char* path);

// Opens the maildir root, creating it when it does not exist yet: a new
// user has no mail and no maildir, and that is an empty maildrop, not an
// error (Dovecot does the same).
Result<UniqueFd> open_or_create_root(const std::string& path);

// Opens cur/ or new/, creating it (and tmp/, which deliveries need) when
// missing.
Result<UniqueFd> open_or_create_subdir(int root_fd, const char* name);

// Renames from_fd/<name> to cur/<target> (a move from new/, or a flag
// change within cur/) without ever replacing a file in cur/; 0 or errno.
int rename_into_cur(int from_fd, const std::string& name, int cur_fd, const std::string& target);

// Reads a message once to learn its wire size and whether it can be sent
// unchanged: exactly st_size bytes, so no read is spent finding the end.
Result<IndexEntry> measure_message(int dir_fd, const char* name, std::vector<char>& buf);

int64_t mtime_ns(const struct stat& st);

int64_t now_ns();

}  // namespace pop3d::maildir
