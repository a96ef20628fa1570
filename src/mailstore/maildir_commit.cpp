// MaildirMaildrop at QUIT: removes what the session deleted, moves the
// rest of new/ to cur/ (flagging what it RETRieved seen), records the
// removals in maildirsize. pop3d.index is rewritten when the session ends
// (~MaildirMaildrop), with the per-folder stamps worked out here without
// waiting for any folder to settle (stamps_after_commit).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <unordered_set>

#include "log/logger.hpp"
#include "mailstore/maildir_flags.hpp"
#include "mailstore/maildir_folders.hpp"
#include "mailstore/maildir_maildrop.hpp"
#include "mailstore/maildir_name.hpp"
#include "mailstore/maildir_quota.hpp"

namespace pop3d {

using namespace maildir;

namespace {

// How far the clock must be past a folder's mtime before a listing of it
// may be recorded with that mtime. Linux stamps a directory change from the
// coarse real-time clock, one timer tick behind at most (1 ms at HZ=1000,
// 10 ms at HZ=100; 4 ms on the bench machine: HZ=250,
// clock_getres(CLOCK_REALTIME_COARSE) = 4 ms); ext4, XFS and tmpfs keep
// nanoseconds, and multigrain timestamps (6.13+) are finer still, never
// coarser. Once the clock is this far past the mtime, any later change gets
// a strictly later mtime. Five times the coarsest tick. The commit never
// waits for it: a folder it just changed is recorded fresh instead.
constexpr int64_t kCommitSettleNs = 50'000'000;

// The age a folder's mtime needs before its listing can be recorded: a
// file system with whole-second stamps (ext4 with 128-byte inodes, ext3,
// some network file systems) shows tv_nsec = 0, and then only the login's
// one-second rule is safe. A fine-grained mtime that happens to be a whole
// second only costs a listing.
int64_t settle_for(int64_t mtime) {
  return mtime % 1'000'000'000 == 0 ? kStampSettleNs : kCommitSettleNs;
}

}  // namespace

int64_t MaildirMaildrop::stamp_after_commit(bool in_new, int64_t vouched, int64_t now) {
  // We hold the lock, so no other pop3d session changes the folder; a
  // delivery or another mail reader may, at any moment.
  const int dir = in_new ? new_.get() : cur_.get();
  struct stat st;
  if (::fstat(dir, &st) != 0) return 0;
  const int64_t before = mtime_ns(st);
  if (before == 0) return 0;
  // Unmoved since a listing that was vouched for: nobody changed the
  // folder since, the commit included, so the snapshot still says what it
  // holds.
  if (before == vouched) return before;
  // Changed within a tick of now (mostly by this commit's own moves), or
  // stamped in the future: a change in the same tick could leave the mtime
  // as it is, so the folder is fresh and the next login lists it. This is
  // where the commit once slept until the folder settled.
  if (now - before < settle_for(before)) return 0;

  // Settled: list it; anything done before the listing is in it, and the
  // same mtime after the listing means no change landed during it.
  size_t expected = 0;
  for (const MaildirMessage& m : messages_)
    if (!m.removed && m.in_new == in_new) ++expected;
  std::unordered_set<std::string_view> names;
  names.reserve(expected);
  for (const MaildirMessage& m : messages_) {
    if (m.removed || m.in_new != in_new) continue;
    // The index leaves such a name out, so it cannot stand for the folder.
    if (!indexable_name(name(m))) return 0;
    names.insert(name(m));
  }
  std::string arena;
  std::vector<ListedName> listing;
  listing.reserve(expected + 1);
  bool truncated = false;
  // One name more than expected is already a mismatch.
  if (!list_files(dir, in_new ? "new" : "cur", expected + 1, true, in_new, arena, listing,
                  truncated) ||
      truncated || listing.size() != expected)
    return 0;
  for (const ListedName& l : listing) {
    // Names in a folder are unique, so as many hits as names is a match.
    if (!names.contains(std::string_view(arena).substr(l.offset, l.length))) return 0;
  }
  if (::fstat(dir, &st) != 0 || mtime_ns(st) != before) return 0;
  return before;
}

DirStamps MaildirMaildrop::stamps_after_commit() {
  if (!trust_folder_times_) return {};  // shared storage: every login lists
  const int64_t now = now_ns();
  return DirStamps{stamp_after_commit(false, vouched_.cur_ns, now),
                   stamp_after_commit(true, vouched_.new_ns, now)};
}

Result<CommitStats> MaildirMaildrop::commit(const std::vector<bool>& session_deleted) {
  return commit(session_deleted, {});
}

Result<CommitStats> MaildirMaildrop::commit(const std::vector<bool>& session_deleted,
                                            const std::vector<bool>& session_retrieved) {
  if (committed_) return Error{"maildrop already committed", 0};
  if (session_deleted.size() != messages_.size()) return Error{"commit: flag count mismatch", 0};
  if (!session_retrieved.empty() && session_retrieved.size() != messages_.size())
    return Error{"commit: retrieved flag count mismatch", 0};
  committed_ = true;
  std::vector<bool> deleted(messages_.size());
  std::vector<bool> seen(messages_.size());
  for (size_t i = 0; i < deleted.size(); ++i) {
    deleted[at(i)] = session_deleted[i];
    // A message that goes has no flags to keep.
    seen[at(i)] = !session_retrieved.empty() && session_retrieved[i] && !session_deleted[i];
  }

  // Maildir++ counts what is removed, in its own measure (S= or the file's
  // size, not the CRLF size POP3 lists), and only where it is kept.
  const bool quota = maildir_quota_kept(root_.get());
  uint64_t quota_bytes = 0, quota_count = 0;

  CommitStats stats;
  unsigned failed = 0;
  bool cur_touched = false, new_touched = false, index_touched = !corrected_.empty();
  std::optional<std::unordered_map<std::string, std::string>> renamed;
  for (size_t i = 0; i < messages_.size(); ++i) {
    if (!deleted[i]) continue;
    MaildirMessage& m = messages_[i];
    int dir = dir_of(m);
    std::string victim = c_name(m);
    std::optional<uint64_t> counts = quota ? maildir_quota_size(dir, victim) : std::nullopt;
    int rc = ::unlinkat(dir, victim.c_str(), 0);
    if (rc != 0 && errno == ENOENT) {
      // Renamed by a flag change? Look once, for all messages.
      if (!renamed) renamed = cur_names_by_base();
      if (auto it = renamed->find(std::string(base(m))); it != renamed->end()) {
        dir = cur_.get();
        victim = it->second;
        if (quota) counts = maildir_quota_size(dir, victim);
        rc = ::unlinkat(dir, victim.c_str(), 0);
      } else {
        errno = ENOENT;
      }
    }
    if (rc != 0 && errno == ENOENT) {
      ++stats.already_gone;  // whoever removed it accounts for it
      m.removed = true;
      index_touched = true;
      continue;
    }
    if (rc != 0) {
      ++failed;
      log_warning("maildir " + log_escape(path_) + ": cannot delete " + log_escape(name(m)) + ": " +
                  Error::from_errno("unlink").message);
      continue;
    }
    ++stats.deleted;
    stats.deleted_bytes += m.entry.size;
    if (quota) {
      // A file that could not be stat()ed but could be removed still counts
      // as a message; its bytes wait for the next recalculation.
      quota_bytes += counts.value_or(0);
      ++quota_count;
    }
    m.removed = true;
    index_touched = true;
    (dir == cur_.get() ? cur_touched : new_touched) = true;
  }

  // The session has seen the rest of the snapshot: what is still in new/
  // goes to cur/, and what it RETRieved is flagged seen, in one rename.
  // Mail delivered since login is not in the snapshot and stays as it is.
  for (size_t i = 0; i < messages_.size(); ++i) {
    MaildirMessage& m = messages_[i];
    if (deleted[i] || m.removed) continue;
    if (!m.in_new && (!seen[i] || maildir_has_flag(name(m), kMaildirSeenFlag))) continue;
    const bool was_new = m.in_new;
    std::string from = c_name(m);
    std::string to =
        seen[i] ? maildir_name_with_flag(from, kMaildirSeenFlag) : maildir_cur_name(from);
    int err = rename_into_cur(dir_of(m), from, cur_.get(), to);
    if (err == ENOENT && !was_new) {
      // Another reader changed its flags meanwhile: add ours to its.
      if (!renamed) renamed = cur_names_by_base();
      if (auto it = renamed->find(std::string(base(m))); it != renamed->end()) {
        from = it->second;
        to = maildir_name_with_flag(from, kMaildirSeenFlag);
        err = from == to ? 0 : rename_into_cur(cur_.get(), from, cur_.get(), to);
      }
    }
    if (err == 0) {
      set_name(m, to);
      m.in_new = false;
      cur_touched = index_touched = true;
      if (was_new) new_touched = true;
    } else if (err == ENOENT) {
      m.removed = true;  // taken by another reader; the next listing finds it
      index_touched = true;
    } else if (err != EEXIST) {  // EEXIST: cur/ has that name already; this one stays
      log_warning("maildir " + log_escape(path_) + ": cannot " +
                  (was_new ? "move new/" + log_escape(from) + " to cur/"
                           : "flag cur/" + log_escape(from) + " seen") +
                  ": " + Error::from_errno("rename", err).message);
    }
  }

  // The deletions must survive a crash once the client has seen +OK.
  std::optional<Error> sync_error;
  if (cur_touched && ::fsync(cur_.get()) != 0) sync_error = Error::from_errno("fsync cur");
  if (new_touched && ::fsync(new_.get()) != 0) sync_error = Error::from_errno("fsync new");
  // Only now, so that no sum ever counts a removal that a crash could undo;
  // after a failed fsync too, as the files are gone from the folders, and a
  // quota that still counts them bounces mail. The mail is gone whatever
  // this write does: a failure is the delivery agent's to correct at its
  // next recalculation, not the session's.
  if (quota_count > 0) {
    if (Status s = maildir_quota_record_removal(root_.get(), quota_bytes, quota_count); !s) {
      log_warning("maildir " + log_escape(path_) + ": cannot record " +
                  std::to_string(quota_count) + " removal(s) in " + kMaildirSizeFile + ": " +
                  s.error().message + "; its next recalculation corrects the quota");
    }
  }
  // pop3d.index is rewritten when the session ends (~MaildirMaildrop),
  // after the client has its answer: the deletions are safe without it,
  // and an index a crash leaves behind is the one from before, whose
  // stamps no longer match any folder this commit changed.
  if (index_touched) index_current_ = false;

  if (sync_error) return *sync_error;
  if (failed > 0) return Error{std::to_string(failed) + " message(s) could not be deleted", 0};
  return stats;
}

}  // namespace pop3d
