// dovecot-uidlist: Dovecot's map from IMAP uid to Maildir file name, with
// the POP3 facts Dovecot keeps beside it. Read so that a maildrop Dovecot
// served keeps its UIDLs and order; written (append, or a new file) so
// that Dovecot running later on the same Maildir presents the UIDLs pop3d
// presented. The format, as Dovecot 2.3 writes it (doc/MIGRATING.md):
//
//   3 V<uidvalidity> N<next uid> G<mailbox guid> [other header fields]
//   <uid> [<field>...] :<file name>
//
// with fields P<uidl> (the POP3 UIDL to present verbatim; a bare "P", as
// Dovecot writes it with pop3_save_uidl when the UIDL is the base name,
// means the base name), O<n> (POP3 order: these messages first, by n),
// W<n> (virtual size), G<guid>; others are skipped. The file name is the
// last one Dovecot knew, with or without ":2,<flags>".
//
// Readers take no lock (Dovecot's rule). Writers hold dovecot-uidlist.lock,
// a dotlock made with O_EXCL holding "<pid>:<host>"; existing lines are
// never changed in place: new lines are appended, a new file is renamed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mailstore/dovecot_dotlock.hpp"
#include "util/result.hpp"

namespace pop3d {

inline constexpr char kDovecotUidlistFile[] = "dovecot-uidlist";
inline constexpr char kDovecotUidlistLockFile[] = "dovecot-uidlist.lock";

// A line is a uid, a few short fields and a file name (NAME_MAX 255); 8 KiB
// leaves room for long P values and fields we skip, and bounds a hostile
// file's single allocation.
inline constexpr size_t kMaxUidlistLine = 8 * 1024;
// Far above any real maildrop (the store itself refuses more than 500,000
// messages), and it bounds memory for a file that never ends.
inline constexpr size_t kMaxUidlistEntries = 1'000'000;
inline constexpr size_t kMaxUidlistBytes = 128 * 1024 * 1024;
// Dovecot's own rule for dovecot-uidlist.lock: a lock not touched for two
// minutes is stale (its holder died without removing it).
inline constexpr std::chrono::seconds kUidlistLockStale{120};

struct UidlistEntry {
  uint32_t uid = 0;
  std::string base_name;  // the file name without ":2,<flags>"
  bool has_pop3_uidl = false;
  std::string pop3_uidl;          // P's value; empty with has_pop3_uidl: the base name
  uint32_t pop3_order = 0;        // O; 0 when absent
  std::optional<uint64_t> vsize;  // W
  std::string guid;               // G; empty when absent

  // The UIDL a P field says to present, if there is one.
  std::optional<std::string> presented_uidl() const {
    if (!has_pop3_uidl) return std::nullopt;
    return pop3_uidl.empty() ? base_name : pop3_uidl;
  }
};

struct Uidlist {
  uint32_t uidvalidity = 0;
  // The uid the next new message gets: the header's N, or one past the
  // last line when lines were appended after the header was written (what
  // Dovecot does with them too).
  uint32_t next_uid = 1;
  std::vector<UidlistEntry> entries;  // ascending uid
  // The file ended in the middle of a line: a writer is appending right
  // now (readers do not lock), or one died mid-write. The partial line is
  // not in `entries`.
  bool partial_last_line = false;

  // base name -> index into entries.
  std::unordered_map<std::string, size_t> by_name() const;
};

// Parses the file's text. Errors name the line: a header that is not
// version 3 with V and N, a uid that is zero, not ascending, or at least
// 2^32-1, a field or line longer than the bounds, a line without " :".
Result<Uidlist> parse_dovecot_uidlist(std::string_view text);

// Reads <dir>/dovecot-uidlist; an empty optional when there is none.
Result<std::optional<Uidlist>> read_dovecot_uidlist(const std::string& dir);

// Takes <dir>/dovecot-uidlist.lock (see DovecotDotlock), waiting up to
// `wait` for a live holder.
Result<DovecotDotlock> lock_dovecot_uidlist(const std::string& dir, std::chrono::milliseconds wait);

// Gives every name in `base_names` that the uidlist in `dir` does not know
// the next uid, in the order given, under the dotlock: appended to the file
// when there is one, else in a new file (uidvalidity `new_uidvalidity`, a
// random mailbox GUID) renamed into place. Returns the uidlist as it then
// stands. New lines carry no fields: Dovecot computes what it needs, and a
// W that disagreed with its own count would be believed.
Result<Uidlist> assign_dovecot_uids(const std::string& dir,
                                    const std::vector<std::string>& base_names,
                                    uint32_t new_uidvalidity, std::chrono::milliseconds lock_wait);

// The line Dovecot reads for a new message, and the header of a new file.
std::string uidlist_entry_line(uint32_t uid, std::string_view base_name);
std::string uidlist_header_line(uint32_t uidvalidity, uint32_t next_uid, std::string_view guid_hex);

}  // namespace pop3d
