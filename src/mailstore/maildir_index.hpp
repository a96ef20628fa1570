// MaildirIndex: what pop3d has learned about each message of a maildrop
// (its wire size, whether it can be sent unchanged), kept in
// <maildir>/pop3d.index so that a repeat login answers STAT, LIST and UIDL
// from one read of this file instead of reading every message.
//
// The file is a cache and is never trusted blindly: a header carries a magic,
// a version, the entry count and a checksum of the body; any flaw discards
// the whole file and the sizes are computed again.
//
//   pop3d-index 1 <count> <fnv1a-64 of the body, 16 hex>\n
//   <size> <0|1 plain_sendable> <base name>\n   (count times)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
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

// One entry to store: the base name and what is known about it.
struct IndexRecord {
  std::string_view base_name;
  IndexEntry entry;
};

// True when a name can be stored in the index (no line breaks, bounded).
bool indexable_name(std::string_view base_name);

// The index file's text for these records.
std::string serialize_index(const std::vector<IndexRecord>& records);

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
  size_t size() const { return entries_.size(); }
  const IndexEntry* find(std::string_view base_name) const;

 private:
  bool parse_text();

  State state_ = State::kMissing;
  // Owned through a pointer so that moving the index never moves the bytes
  // the keys below point into.
  std::unique_ptr<std::string> text_;
  std::unordered_map<std::string_view, IndexEntry> entries_;
};

// Replaces <maildir_fd>/pop3d.index atomically: the temp file is written,
// fsynced and renamed over it, so a crash leaves the old or the new index,
// never half of one.
Status write_maildir_index(int maildir_fd, const std::vector<IndexRecord>& records);

}  // namespace pop3d
