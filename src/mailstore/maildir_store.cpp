#include "mailstore/maildir_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "auth/mail_location.hpp"
#include "log/logger.hpp"
#include "mailstore/maildir_folders.hpp"
#include "mailstore/maildir_maildrop.hpp"
#include "mailstore/maildir_name.hpp"
#include "mailstore/maildrop_lock.hpp"

namespace pop3d {

using namespace maildir;

namespace {

OpenStatus status_for_errno(int err) {
  // Permission and path-shape problems will not heal by retrying; anything
  // else (EIO, ENOSPC, EMFILE...) may.
  switch (err) {
    case EACCES:
    case EPERM:
    case ENOTDIR:
    case ELOOP:
    case ENAMETOOLONG:
      return OpenStatus::kPermFail;
    default:
      return OpenStatus::kTempFail;
  }
}

OpenOutcome failure(OpenStatus status, std::string reason) {
  OpenOutcome out;
  out.status = status;
  out.reason = std::move(reason);
  return out;
}

OpenOutcome failure(const Error& error, const std::string& maildir) {
  return failure(status_for_errno(error.sys_errno),
                 "maildir " + log_escape(maildir) + ": " + error.message);
}

}  // namespace

const IndexEntry& MaildirMaildrop::entry_to_record(size_t i) const {
  if (corrected_.empty()) return messages_[i].entry;
  const auto it = corrected_.find(i);
  return it == corrected_.end() ? messages_[i].entry : it->second;
}

bool MaildirMaildrop::write_index(DirStamps stamps) {
  std::vector<IndexRecord> records;
  records.reserve(messages_.size());
  for (size_t i = 0; i < messages_.size(); ++i) {
    const MaildirMessage& m = messages_[i];
    if (!m.removed) records.push_back(IndexRecord{name(m), entry_to_record(i), m.in_new});
  }
  // The index is a cache: failing to write it costs speed next time, not
  // correctness, so the session goes on.
  if (Status s = write_maildir_index(root_.get(), records, stamps); !s) {
    log_warning("maildir " + log_escape(path_) + ": " + s.error().message);
    return false;
  }
  // On shared storage the rename reaches the other nodes only once it is
  // on the servers: made durable with the rest of the commit.
  if (!trust_folder_times_ && ::fsync(root_.get()) != 0) {
    log_warning("maildir " + log_escape(path_) + ": fsync after writing " + kMaildirIndexFile +
                ": " + std::strerror(errno));
  }
  return true;
}

std::unordered_map<std::string, std::string> MaildirMaildrop::cur_names_by_base() {
  std::unordered_map<std::string, std::string> by_base;
  std::string arena;
  std::vector<ListedName> names;
  bool truncated = false;
  if (!list_files(cur_.get(), "cur", kMaxMaildropMessages, true, false, arena, names, truncated))
    return by_base;
  by_base.reserve(names.size());
  for (const ListedName& l : names) {
    const std::string_view n = std::string_view(arena).substr(l.offset, l.length);
    by_base.emplace(std::string(maildir_base_name(n)), std::string(n));
  }
  return by_base;
}

Result<UniqueFd> MaildirMaildrop::open_message(size_t index) {
  lock_.refresh();
  MaildirMessage& m = messages_[at(index)];
  // O_NONBLOCK guards the open against a FIFO planted in cur/; on the
  // regular file it then opens, it changes nothing, so it stays set.
  constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
  UniqueFd fd(::openat(dir_of(m), c_name(m).c_str(), kFlags));
  if (!fd && errno == ENOENT) {
    // Another client may have set a flag, renaming "<base>:2,<flags>", or
    // moved a new/ message to cur/.
    auto by_base = cur_names_by_base();
    if (auto it = by_base.find(std::string(base(m))); it != by_base.end()) {
      set_name(m, it->second);
      m.in_new = false;
      fd.reset(::openat(cur_.get(), it->second.c_str(), kFlags));
    } else {
      errno = ENOENT;
    }
  }
  if (!fd) {
    if (errno == ENOENT) return Error{"message vanished", ENOENT};
    return Error::from_errno("open message " + log_escape(name(m)));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("fstat message");
  if (!S_ISREG(st.st_mode)) return Error{"message is not a regular file", 0};
  return fd;
}

MaildirMaildrop::~MaildirMaildrop() {
  // The lock is still held. After a commit: the index gets the stamps that
  // let the next login skip listing a folder, where they can be had soundly
  // and at once (see stamps_after_commit); a folder the commit just changed
  // is fresh, and the next login lists it rather than anyone waiting for it.
  if (committed_) {
    const DirStamps stamps = stamps_after_commit();
    if (!index_current_ || stamps != vouched_) write_index(stamps);
    return;
  }
  // A session that ends without QUIT commits nothing, but what it learnt
  // about sizes (at login, or while sending) must reach pop3d.index all the
  // same, or the next session measures again or lists the wrong size. The
  // records are this snapshot's, so the stamps it vouches for stay sound.
  if (!index_current_ || !corrected_.empty()) write_index(vouched_);
}

void MaildirMaildrop::correct_size(size_t session_index, std::optional<FileMeasure> measured) {
  const size_t index = at(session_index);
  const MaildirMessage& m = messages_[index];
  const std::string where =
      "maildir " + log_escape(path_) + ": " + (m.in_new ? "new/" : "cur/") + log_escape(name(m));
  IndexEntry entry;
  if (measured) {
    entry = IndexEntry{measured->size, measured->plain_sendable};
  } else {
    // Only the difference is known (TOP stopped early, or the file shrank
    // under sendfile): one read now, rather than the wrong size again at
    // every login; once a session, however often the client asks.
    if (corrected_.contains(index)) return;
    std::vector<char> buf(kSizeReadChunk);
    auto again = measure_message(dir_of(m), c_name(m).c_str(), buf);
    if (!again) {
      log_warning(where + ": size differs from the listing and cannot be measured: " +
                  again.error().message);
      return;
    }
    entry = *again;
  }
  const IndexEntry& had = entry_to_record(index);
  if (entry.size == had.size && entry.plain_sendable == had.plain_sendable) return;
  log_warning(where + ": size differs from the listing: listed " + std::to_string(m.entry.size) +
              ", file " + std::to_string(entry.size) + " octets; " + kMaildirIndexFile +
              " corrected");
  corrected_[index] = entry;
}

OpenOutcome MaildirStore::open(const UserRecord& user) {
  if (user.maildir.empty()) return failure(OpenStatus::kPermFail, "no maildir configured");
  auto paths = split_maildir_options(user.maildir, user.home);
  if (!paths) return failure(OpenStatus::kTempFail, paths.error().message);
  const std::string& path = paths->maildir;

  auto root = open_or_create_root(path);
  if (!root) return failure(root.error(), path);
  auto lock = MaildropLock::acquire(root->get(), paths->control_dir);
  if (!lock) {
    if (lock.error().sys_errno == EWOULDBLOCK)
      return failure(OpenStatus::kInUse,
                     "maildir " + log_escape(path) + ": " + lock.error().message);
    return failure(lock.error(), path);
  }
  auto cur = open_or_create_subdir(root->get(), "cur");
  if (!cur) return failure(cur.error(), path);
  auto fresh = open_or_create_subdir(root->get(), "new");
  if (!fresh) return failure(fresh.error(), path);

  const bool shared = storage_is_shared(shared_, root->get());
  auto drop = std::make_unique<MaildirMaildrop>(path, std::move(*lock), std::move(*root),
                                                std::move(*cur), std::move(*fresh));
  if (shared) drop->distrust_folder_times();
  if (Status s = drop->snapshot(); !s) return failure(s.error(), path);
  if (Status s = drop->take_uids(*choose_uid_source(uidl_, paths->maildir, paths->control_dir));
      !s) {
    // Presenting other UIDLs than the clients know would make them fetch
    // everything again; better a temporary failure the log explains.
    return failure(OpenStatus::kTempFail, "maildir " + log_escape(path) + ": " + s.error().message);
  }

  OpenOutcome out;
  out.status = OpenStatus::kOk;
  out.maildrop = std::move(drop);
  return out;
}

}  // namespace pop3d
