// courierpop3dsizelist: Courier's POP3 uid record, kept in the Maildir root.
// Read so that a maildrop Courier's pop3d served keeps its UIDLs and order;
// rewritten (a new file renamed in, as Courier does) when new mail arrives,
// so that Courier run again later presents the UIDLs pop3d presented.
//
// The format, as Courier 1.0.16 (courier-pop, Debian 12) writes and reads it
// (doc/MIGRATING.md):
//
//   /<version> <next uid> <uidvalidity>
//   <file name> <size> <uid>:<uidvalidity>[:<utf8>]
//
// Version 3 lines carry the utf8 flag (1: 8-bit header bytes), version 2
// lines do not; Courier reads both. The file name is the cur/ name with its
// ":2,<flags>" as it was when the line was written; Courier matches it to a
// message by the part before the first ':', so a later flag change keeps
// the uid. The size is what Courier says in LIST: bytes plus one per LF.
// Courier's UIDL is "UID<uid>-<uidvalidity>", "UID<uid>" when the line's
// uidvalidity is 0, and the base name (with +XX escapes) when its uid is 0.
// POP3 order is file-name order (Courier's cmpmsgs: the number the name
// starts with, then bytes up to the ':').
//
// Courier's pop3d never reads courierimapuiddb (its IMAP uids): a Maildir
// with only that file gets a new courierpop3dsizelist at the first POP3
// login, from Courier and from pop3d alike.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailstore/uid_source.hpp"
#include "util/result.hpp"

namespace pop3d {

inline constexpr char kCourierSizelistFile[] = "courierpop3dsizelist";
inline constexpr char kCourierImapUiddbFile[] = "courierimapuiddb";

// Courier reads a line into 2048 bytes and silently cuts the rest; a longer
// line is not one Courier wrote (file names are at most NAME_MAX, 255).
inline constexpr size_t kMaxSizelistLine = 2048;
// Far above any real maildrop (the store refuses more than 500,000
// messages); bounds memory for a file that never ends.
inline constexpr size_t kMaxSizelistEntries = 1'000'000;
inline constexpr size_t kMaxSizelistBytes = 128 * 1024 * 1024;
// Courier keeps uids in an unsigned long; staying below 2^63 keeps every
// uid we write readable by a Courier built where long is 64 bits, and
// leaves no overflow near the top.
inline constexpr uint64_t kCourierUidLimit = uint64_t{1} << 63;

struct SizelistEntry {
  std::string file_name;  // as written, with ":2,<flags>" when the file had them
  uint64_t size = 0;
  uint64_t uid = 0;          // 0: the UIDL is the base name (Courier's oldest kind)
  uint64_t uidvalidity = 0;  // 0: the UIDL is "UID<uid>"
  std::optional<bool> utf8;  // version 3 lines only
  std::string line;          // the line as read, without its '\n', to write back unchanged

  // What Courier matches a message by: the name up to its first ':'.
  std::string_view key() const;
};

struct Sizelist {
  int version = 3;  // 2 or 3; kept when pop3d rewrites the file
  uint64_t next_uid = 1;
  std::optional<uint64_t> uidvalidity;  // absent: Courier takes the time
  std::vector<SizelistEntry> entries;   // in file order
};

// Parses the file's text. Errors name the line: a header that is not
// "/2 ..." or "/3 ..." with a next uid, a line that is not "name size
// uid:uidv[:utf8]", a number out of range, a line longer than the bound, a
// last line without its newline. Courier would silently skip such a line
// and give its message a new UIDL (every client fetches it again); pop3d
// says so instead.
Result<Sizelist> parse_courier_sizelist(std::string_view text);

// Reads <maildir>/courierpop3dsizelist; an empty optional when there is none.
Result<std::optional<Sizelist>> read_courier_sizelist(const std::string& maildir);

// The UIDL Courier's pop3d presents for an entry.
std::string courier_uidl(const SizelistEntry& e);

// Courier's POP3 order on two names (or their keys): <0, 0, >0.
int courier_name_compare(std::string_view a, std::string_view b);

// What Courier records for a message it sees first: its LIST size (bytes
// plus one per LF, as Courier counts) and whether its header has 8-bit bytes.
struct CourierMeasure {
  uint64_t size = 0;
  bool utf8 = false;
};
class CourierMeasurer {
 public:
  void feed(std::string_view bytes);
  CourierMeasure result() const { return m_; }

 private:
  CourierMeasure m_;
  bool in_header_ = true;
  size_t line_length_ = 0;  // bytes of the current line, CR not counted
};

// The line Courier reads for a message, in the file's version.
std::string sizelist_entry_line(int version, std::string_view file_name, uint64_t size,
                                uint64_t uid, uint64_t uidvalidity, bool utf8);
std::string sizelist_header_line(int version, uint64_t next_uid, uint64_t uidvalidity);

// Writes `text` as <maildir>/courierpop3dsizelist the way Courier does: a
// file in tmp/ renamed over the old one (fsynced first, which Courier
// skips), so a reader sees the old file or the new one.
Status replace_courier_sizelist(const std::string& maildir, std::string_view text);

// The UidSource for a maildrop with Courier's files. `clock` gives the
// uidvalidity for a new file (Courier takes the time); tests fix it.
class CourierUids : public UidSource {
 public:
  explicit CourierUids(std::string maildir, std::time_t (*clock)(std::time_t*) = &std::time)
      : maildir_(std::move(maildir)), clock_(clock) {}
  Result<UidPlan> plan(const std::vector<std::string_view>& base_names) override;

 private:
  std::string maildir_;
  std::time_t (*clock_)(std::time_t*);
};

}  // namespace pop3d
