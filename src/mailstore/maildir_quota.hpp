// Maildir++ quota (Courier's README.maildirquota, which Dovecot's
// quota=maildir, maildrop and Exim follow), as a reader that removes mail
// keeps it: <maildir>/maildirsize holds the quota definition and lines of
// "<bytes> <count>" that a delivery agent adds up to decide whether a new
// message fits. Whoever removes mail appends its negative counts; otherwise
// the agent goes on refusing mail for a mailbox POP3 has emptied, until it
// recalculates the file.
//
// pop3d imposes no quota and never recalculates the file: the rules leave
// that to the one who enforces the quota (when the file reaches 5120
// bytes, or claims "over quota" with more than one line or at 15 minutes
// old), and only that one knows the quota to write in its first line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace pop3d {

constexpr char kMaildirSizeFile[] = "maildirsize";

// Whether the Maildir under `root_fd` keeps Maildir++ quota: maildirsize
// exists. Without it nothing is counted (pop3d does not start a quota).
bool maildir_quota_kept(int root_fd);

// What the message `dir_fd`/`file_name` counts for: the S= size in its
// name when present (a Maildir++ writer put it there), else the file's
// size. Empty when the file cannot be stat()ed (gone already: then it is
// not pop3d's removal to count).
std::optional<uint64_t> maildir_quota_size(int dir_fd, std::string_view file_name);

// The line that records the removal of `count` messages of `bytes` octets.
std::string maildir_quota_removal_line(uint64_t bytes, uint64_t count);

// Appends that line to maildirsize in one write() on an O_APPEND
// descriptor, so that it lands whole after whatever a delivery appended
// meanwhile. Nothing to do (and no error) when count is 0 or the file is
// gone: a delivery agent that removed it recalculates from the folders.
Status maildir_quota_record_removal(int root_fd, uint64_t bytes, uint64_t count);

}  // namespace pop3d
