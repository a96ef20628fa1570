// MaildirIndex: what pop3d has learned about each message of a maildrop
// (its file name and folder, wire size, whether it can be sent unchanged),
// kept in <maildir>/pop3d.index in maildrop order, so that a repeat login
// answers STAT, LIST and UIDL from one read of this file instead of reading
// every message, and, when cur/ and new/ have not changed since (their
// modification times, see DirStamps), without even listing them.
//
// The file is a cache and is never trusted blindly: a header carries a magic,
// a version, the entry count, the folder stamps and a checksum of the header
// and the body; any flaw discards the whole file and the sizes are computed
// again (an older version is rebuilt the same way, without a warning).
// A stamp of 0 marks a folder the next login lists (see DirStamps); the
// readers of version 3 before per-folder stamps treated one 0 stamp as a
// mismatch and listed both folders, so the version did not change.
//
//   pop3d-index 3 <count> <cur/ mtime ns> <new/ mtime ns> <index_checksum, 16 hex>\n
//   <size> <flags> <file name>\n   (count times; flags: 1 plain_sendable | 2 in new/)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace pop3d {

inline constexpr char kMaildirIndexFile[] = "pop3d.index";
inline constexpr char kMaildirIndexTempFile[] = "pop3d.index.tmp";
// 20,000 messages take about 1 MiB; an index far beyond any real maildrop
// is damage or abuse and is rebuilt rather than read into memory.
inline constexpr size_t kMaxIndexBytes = 64 * 1024 * 1024;
// Maildir base names are single directory entries (NAME_MAX).
inline constexpr size_t kMaxIndexedName = 255;

struct IndexEntry {
  uint64_t size = 0;
  bool plain_sendable = false;
};

// One entry: the file name (in cur/ or new/) and what is known about it.
struct IndexRecord {
  std::string_view file_name;
  IndexEntry entry;
  bool in_new = false;
  // The length of maildir_base_name(file_name); set by the parser (writers
  // need not).
  uint32_t base_length = 0;
  std::string_view base() const { return file_name.substr(0, base_length); }
};

// Per folder, the modification time (ns since the epoch) under which the
// index's records of that folder stand for a listing of it; 0 for a folder
// the next login must list whatever its mtime ("fresh": it changed within a
// timestamp tick of the listing, so a change in the same tick would not
// move its mtime; or nothing is known). A folder's stamp is set only when a
// change after its listing is sure to move its mtime: at login, when the
// folder was untouched for kStampSettle before the listing started (a
// folder's mtime has a coarse granularity); at commit, when the clock was
// past the folder's mtime by a margin finer than a second but coarser than
// any tick, and the mtime did not move while listing (see
// MaildirMaildrop::stamps_after_commit). A folder the commit itself just
// changed is fresh: the commit does not wait for it to settle. The two
// folders are independent: a login takes a folder whose stamp matches from
// the index and lists only the other.
struct DirStamps {
  int64_t cur_ns = 0;
  int64_t new_ns = 0;
  // True when the index stands in for the listing of at least one folder.
  bool known() const { return cur_ns != 0 || new_ns != 0; }
  bool operator==(const DirStamps&) const = default;
};
inline constexpr int64_t kStampSettleNs = 1'000'000'000;

// True when a name can be stored in the index (bounded; no line break, NUL
// or '/').
bool indexable_name(std::string_view file_name);

// The index's checksum of `s` (64 bits, not a MAC: it catches damage).
uint64_t index_checksum(std::string_view s, uint64_t seed = 0);

// The index file's text for these records; unindexable names are left out.
std::string serialize_index(const std::vector<IndexRecord>& records, DirStamps stamps = {});
class MaildirIndex {
 public:
  enum class State { kMissing, kLoaded, kCorrupt };

  // Reads <maildir_fd>/pop3d.index with a single read. Never fails: a
  // missing, oversized or damaged file gives an empty index (kMissing or
  // kCorrupt), and the caller rebuilds.
  static MaildirIndex load(int maildir_fd);
  // Parses index text; kCorrupt (and no entries) on any flaw.
  static MaildirIndex parse(std::string text);

  MaildirIndex() = default;
  MaildirIndex(MaildirIndex&&) = default;
  MaildirIndex& operator=(MaildirIndex&&) = default;

  State state() const { return state_; }
  size_t size() const { return records_.size(); }
  DirStamps stamps() const { return stamps_; }
  // The records in maildrop order; their names point into this index.
  const std::vector<IndexRecord>& records() const { return records_; }
  // The position of the record with this base name, or npos.
  size_t position(std::string_view base_name) const;
  const IndexEntry* find(std::string_view base_name) const;
  // Hands over the text the records point into (valid while it lives).
  std::unique_ptr<std::string> take_text() { return std::move(text_); }

  static constexpr size_t npos = static_cast<size_t>(-1);

 private:
  bool parse_text();
  void build_lookup();

  State state_ = State::kMissing;
  DirStamps stamps_;
  // Owned through a pointer so that moving the index never moves the bytes
  // the records point into.
  std::unique_ptr<std::string> text_;
  std::vector<IndexRecord> records_;
  // Open addressing over records_ by base name (positions + 1; 0 is empty),
  // built while parsing, which also refuses duplicate base names.
  std::vector<uint32_t> lookup_;
};

// Replaces <maildir_fd>/pop3d.index atomically: the temp file is written,
// fsynced and renamed over it, so a crash leaves the old or the new index,
// never half of one.
Status write_maildir_index(int maildir_fd, const std::vector<IndexRecord>& records,
                           DirStamps stamps = {});

}  // namespace pop3d
