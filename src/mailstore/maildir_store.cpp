#include "mailstore/maildir_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <unordered_map>

#include "log/logger.hpp"
#include "mailstore/crlf_size.hpp"
#include "mailstore/maildir_index.hpp"
#include "mailstore/maildir_name.hpp"
#include "mailstore/maildrop_lock.hpp"

namespace pop3d {

namespace {

// Directories pop3d creates hold one user's private mail.
constexpr mode_t kMaildirMode = 0700;
// Reads that size a message: large enough that a typical message takes one
// read, small enough to stay in cache.
constexpr size_t kSizeReadChunk = 64 * 1024;
// Each message costs ~100 bytes of session memory and a line of LIST; past
// this a maildrop is damage or abuse, and the rest waits for a later session.
constexpr size_t kMaxMaildropMessages = 500'000;
// The Maildir info suffix that marks a message as seen by a reader.
constexpr char kInfoSuffix[] = ":2,";

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirHandle = std::unique_ptr<DIR, DirCloser>;

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

// Lists the names of the regular, non-dot files in `dir_fd`. Anything else
// (subdirectories, symlinks, devices) is skipped with a log line unless
// `quiet`; at most `limit` names are returned.
Result<std::vector<std::string>> list_files(int dir_fd, const std::string& dir_label, size_t limit,
                                            bool quiet) {
  // A fresh open file description, so this listing's position is its own.
  const int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open " + dir_label);
  DirHandle dir(::fdopendir(fd));
  if (!dir) {
    const int err = errno;
    ::close(fd);
    return Error::from_errno("fdopendir " + dir_label, err);
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir.get());
    if (entry == nullptr) {
      if (errno != 0) return Error::from_errno("readdir " + dir_label);
      break;
    }
    if (entry->d_name[0] == '.') continue;  // ".", "..", and hidden files
    bool regular = entry->d_type == DT_REG;
    if (entry->d_type == DT_UNKNOWN) {
      // Some file systems leave d_type out; only then does a name cost a stat.
      struct stat st;
      regular = ::fstatat(::dirfd(dir.get()), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG(st.st_mode);
    }
    if (!regular) {
      if (!quiet)
        log_warning("maildir: skipping non-regular entry " + dir_label + "/" +
                    log_escape(entry->d_name));
      continue;
    }
    if (names.size() >= limit) {
      if (!quiet)
        log_warning("maildir: more than " + std::to_string(limit) + " files in " + dir_label +
                    "; the rest wait for a later session");
      break;
    }
    names.emplace_back(entry->d_name);
  }
  return names;
}

// mkdir that treats "already there" as success (another session or the MDA
// may create it at the same moment).
bool make_dir_at(int dir_fd, const char* path) {
  return ::mkdirat(dir_fd, path, kMaildirMode) == 0 || errno == EEXIST;
}

// Creates `path` and any missing parents, like mkdir -p.
Status make_dirs(const std::string& path) {
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    const std::string prefix = path.substr(0, pos);
    if (!make_dir_at(AT_FDCWD, prefix.c_str())) return Error::from_errno("mkdir " + prefix);
  }
  if (!make_dir_at(AT_FDCWD, path.c_str())) return Error::from_errno("mkdir " + path);
  return {};
}

Result<UniqueFd> open_dir_at(int dir_fd, const char* path) {
  UniqueFd fd(::openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return Error::from_errno(std::string("open ") + path);
  return fd;
}

// Opens the maildir root, creating it when it does not exist yet: a new
// user has no mail and no maildir, and that is an empty maildrop, not an
// error (Dovecot does the same).
Result<UniqueFd> open_or_create_root(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) return fd;
  if (errno != ENOENT) return Error::from_errno("open");
  if (Status made = make_dirs(path); !made) return made.error();
  fd.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::from_errno("open");
  return fd;
}

// Opens cur/ or new/, creating it (and tmp/, which deliveries need) when
// missing.
Result<UniqueFd> open_or_create_subdir(int root_fd, const char* name) {
  auto dir = open_dir_at(root_fd, name);
  if (dir || dir.error().sys_errno != ENOENT) return dir;
  if (!make_dir_at(root_fd, name)) return Error::from_errno(std::string("mkdir ") + name);
  if (!make_dir_at(root_fd, "tmp")) return Error::from_errno("mkdir tmp");
  return open_dir_at(root_fd, name);
}

// Moves new/<name> to cur/<name>:2, without ever replacing a file in cur/.
int move_to_cur(int new_fd, const std::string& name, int cur_fd) {
  const std::string target =
      name.find(kInfoSuffix) == std::string::npos ? name + kInfoSuffix : name;
  if (::renameat2(new_fd, name.c_str(), cur_fd, target.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  // File systems without RENAME_NOREPLACE: link fails rather than replace.
  if (::linkat(new_fd, name.c_str(), cur_fd, target.c_str(), 0) != 0) return errno;
  ::unlinkat(new_fd, name.c_str(), 0);
  return 0;
}

// Reads a message once to learn its wire size and whether it can be sent
// unchanged.
Result<IndexEntry> measure_message(int dir_fd, const std::string& name, std::vector<char>& buf) {
  UniqueFd fd(
      ::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
  if (!fd) return Error::from_errno("open");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("fstat");
  if (!S_ISREG(st.st_mode)) return Error{"not a regular file", 0};
  CrlfCounter counter;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("read");
    if (n == 0) break;
    counter.feed(buf.data(), static_cast<size_t>(n));
  }
  return IndexEntry{counter.size(), counter.plain_sendable()};
}

struct MaildirMessage {
  std::string file_name;
  size_t base_len = 0;
  uint64_t delivered = 0;  // the timestamp at the start of the name
  bool in_new = false;     // could not be moved to cur/; read from new/
  bool indexed = false;    // `entry` belongs in pop3d.index
  bool broken = false;
  bool removed = false;  // unlinked (or found gone) at commit
  IndexEntry entry;

  std::string_view base() const { return std::string_view(file_name).substr(0, base_len); }
};

class MaildirMaildrop : public Maildrop {
 public:
  MaildirMaildrop(std::string path, MaildropLock lock, UniqueFd root, UniqueFd cur, UniqueFd fresh)
      : lock_(std::move(lock)),
        path_(std::move(path)),
        root_(std::move(root)),
        cur_(std::move(cur)),
        new_(std::move(fresh)) {}

  // Moves new mail to cur/ and takes the snapshot the session works on.
  Status snapshot();

  size_t count() const override { return infos_.size(); }
  const MessageInfo& info(size_t index) const override { return infos_[index]; }
  Result<UniqueFd> open_message(size_t index) override;
  Result<CommitStats> commit(const std::vector<bool>& deleted) override;

 private:
  int dir_of(const MaildirMessage& m) const { return m.in_new ? new_.get() : cur_.get(); }
  Status collect(std::vector<std::string> cur_names, std::vector<std::string> stuck_new);
  bool assign_sizes();
  void write_index();
  // The current cur/ names by base name, for messages another client
  // renamed (flag change) since the snapshot.
  std::unordered_map<std::string, std::string> cur_names_by_base();

  MaildropLock lock_;  // declared first: released last
  std::string path_;   // for log lines
  UniqueFd root_, cur_, new_;
  std::vector<MaildirMessage> messages_;
  std::vector<MessageInfo> infos_;
  bool committed_ = false;
};

Status MaildirMaildrop::snapshot() {
  auto fresh = list_files(new_.get(), log_escape(path_) + "/new", kMaxMaildropMessages, false);
  if (!fresh) return fresh.error();
  std::vector<std::string> stuck;
  for (const std::string& name : *fresh) {
    const int err = move_to_cur(new_.get(), name, cur_.get());
    if (err == 0 || err == ENOENT) continue;  // moved, or taken by another reader
    log_warning("maildir " + log_escape(path_) + ": cannot move new/" + log_escape(name) +
                " to cur/: " + Error::from_errno("rename", err).message);
    if (err != EEXIST) stuck.push_back(name);  // EEXIST: cur/ has it already
  }
  auto cur = list_files(cur_.get(), log_escape(path_) + "/cur", kMaxMaildropMessages, false);
  if (!cur) return cur.error();
  if (Status s = collect(std::move(*cur), std::move(stuck)); !s) return s;

  if (assign_sizes()) write_index();

  infos_.reserve(messages_.size());
  for (const auto& m : messages_) {
    MessageInfo info;
    info.size = m.entry.size;
    info.plain_sendable = m.entry.plain_sendable;
    info.uidl = maildir_uidl(m.base());
    infos_.push_back(std::move(info));
  }
  return {};
}

Status MaildirMaildrop::collect(std::vector<std::string> cur_names,
                                std::vector<std::string> stuck_new) {
  messages_.reserve(cur_names.size() + stuck_new.size());
  auto add = [this](std::string name, bool in_new) {
    MaildirMessage m;
    m.base_len = maildir_base_name(name).size();
    if (m.base_len == 0) {
      log_warning("maildir " + log_escape(path_) + ": skipping nameless file " + log_escape(name));
      return;
    }
    m.file_name = std::move(name);
    m.delivered = maildir_delivery_time(m.base());
    m.in_new = in_new;
    messages_.push_back(std::move(m));
  };
  for (auto& name : cur_names) add(std::move(name), false);
  for (auto& name : stuck_new) add(std::move(name), true);

  // Delivery order, so message numbers follow arrival and stay stable.
  std::sort(messages_.begin(), messages_.end(),
            [](const MaildirMessage& a, const MaildirMessage& b) {
              if (a.delivered != b.delivered) return a.delivered < b.delivered;
              if (a.base() != b.base()) return a.base() < b.base();
              return a.file_name < b.file_name;
            });
  // One base name, one message: a copy under another flag suffix would
  // give two messages the same UIDL.
  auto dup = std::unique(messages_.begin(), messages_.end(),
                         [this](const MaildirMessage& a, const MaildirMessage& b) {
                           if (a.base() != b.base()) return false;
                           log_warning("maildir " + log_escape(path_) + ": ignoring duplicate " +
                                       log_escape(b.file_name));
                           return true;
                         });
  messages_.erase(dup, messages_.end());
  return {};
}

// Fills in every message's size: from the index, from Dovecot's W= field,
// or by reading the file. Returns whether the index file needs rewriting.
bool MaildirMaildrop::assign_sizes() {
  const MaildirIndex index = MaildirIndex::load(root_.get());
  if (index.state() == MaildirIndex::State::kCorrupt)
    log_warning("maildir " + log_escape(path_) + ": " + kMaildirIndexFile +
                " is damaged; rebuilding it");
  size_t from_index = 0;
  bool computed = false;
  std::vector<char> buf;
  for (auto& m : messages_) {
    if (const IndexEntry* e = index.find(m.base())) {
      m.entry = *e;
      m.indexed = true;
      ++from_index;
      continue;
    }
    if (auto w = maildir_wire_size_field(m.base())) {
      // Exact, and free; whether it is plain-sendable stays unknown.
      m.entry = IndexEntry{*w, false};
      continue;
    }
    if (buf.empty()) buf.resize(kSizeReadChunk);
    auto measured = measure_message(dir_of(m), m.file_name, buf);
    if (!measured) {
      // Gone since the listing, or unreadable: not part of this maildrop.
      if (measured.error().sys_errno != ENOENT)
        log_warning("maildir " + log_escape(path_) + ": skipping " + log_escape(m.file_name) +
                    ": " + measured.error().message);
      m.broken = true;
      continue;
    }
    m.entry = *measured;
    m.indexed = indexable_name(m.base());
    computed = computed || m.indexed;
  }
  std::erase_if(messages_, [](const MaildirMessage& m) { return m.broken; });
  // Rewrite when we learned something, when entries went stale (their
  // files are gone), or when the file on disk is damaged.
  return computed || from_index != index.size() || index.state() == MaildirIndex::State::kCorrupt;
}

void MaildirMaildrop::write_index() {
  std::vector<IndexRecord> records;
  records.reserve(messages_.size());
  for (const auto& m : messages_)
    if (m.indexed && !m.removed) records.push_back(IndexRecord{m.base(), m.entry});
  // The index is a cache: failing to write it costs speed next time, not
  // correctness, so the session goes on.
  if (Status s = write_maildir_index(root_.get(), records); !s)
    log_warning("maildir " + log_escape(path_) + ": " + s.error().message);
}

std::unordered_map<std::string, std::string> MaildirMaildrop::cur_names_by_base() {
  std::unordered_map<std::string, std::string> by_base;
  auto names = list_files(cur_.get(), "cur", kMaxMaildropMessages, true);
  if (!names) return by_base;
  by_base.reserve(names->size());
  for (auto& name : *names) {
    std::string base(maildir_base_name(name));
    by_base.emplace(std::move(base), std::move(name));
  }
  return by_base;
}

Result<UniqueFd> MaildirMaildrop::open_message(size_t index) {
  MaildirMessage& m = messages_[index];
  constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
  UniqueFd fd(::openat(dir_of(m), m.file_name.c_str(), kFlags));
  if (!fd && errno == ENOENT) {
    // Another client may have set a flag, renaming "<base>:2,<flags>".
    auto by_base = cur_names_by_base();
    if (auto it = by_base.find(std::string(m.base())); it != by_base.end()) {
      m.file_name = std::move(it->second);
      m.in_new = false;
      fd.reset(::openat(cur_.get(), m.file_name.c_str(), kFlags));
    } else {
      errno = ENOENT;
    }
  }
  if (!fd) {
    if (errno == ENOENT) return Error{"message vanished", ENOENT};
    return Error::from_errno("open message " + log_escape(m.file_name));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("fstat message");
  if (!S_ISREG(st.st_mode)) return Error{"message is not a regular file", 0};
  // O_NONBLOCK only guarded the open against a FIFO planted in cur/.
  const int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl >= 0) ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

Result<CommitStats> MaildirMaildrop::commit(const std::vector<bool>& deleted) {
  if (committed_) return Error{"maildrop already committed", 0};
  if (deleted.size() != messages_.size()) return Error{"commit: flag count mismatch", 0};
  committed_ = true;

  CommitStats stats;
  unsigned failed = 0;
  bool cur_touched = false, new_touched = false, index_touched = false;
  std::optional<std::unordered_map<std::string, std::string>> renamed;
  for (size_t i = 0; i < messages_.size(); ++i) {
    if (!deleted[i]) continue;
    MaildirMessage& m = messages_[i];
    int dir = dir_of(m);
    int rc = ::unlinkat(dir, m.file_name.c_str(), 0);
    if (rc != 0 && errno == ENOENT) {
      // Renamed by a flag change? Look once, for all messages.
      if (!renamed) renamed = cur_names_by_base();
      if (auto it = renamed->find(std::string(m.base())); it != renamed->end()) {
        dir = cur_.get();
        rc = ::unlinkat(dir, it->second.c_str(), 0);
      } else {
        errno = ENOENT;
      }
    }
    if (rc != 0 && errno == ENOENT) {
      ++stats.already_gone;
      m.removed = true;
      index_touched = index_touched || m.indexed;
      continue;
    }
    if (rc != 0) {
      ++failed;
      log_warning("maildir " + log_escape(path_) + ": cannot delete " + log_escape(m.file_name) +
                  ": " + Error::from_errno("unlink").message);
      continue;
    }
    ++stats.deleted;
    stats.deleted_bytes += m.entry.size;
    m.removed = true;
    index_touched = index_touched || m.indexed;
    (dir == cur_.get() ? cur_touched : new_touched) = true;
  }

  // The deletions must survive a crash once the client has seen +OK.
  std::optional<Error> sync_error;
  if (cur_touched && ::fsync(cur_.get()) != 0) sync_error = Error::from_errno("fsync cur");
  if (new_touched && ::fsync(new_.get()) != 0) sync_error = Error::from_errno("fsync new");
  if (index_touched) write_index();

  if (sync_error) return *sync_error;
  if (failed > 0) return Error{std::to_string(failed) + " message(s) could not be deleted", 0};
  return stats;
}

}  // namespace

OpenOutcome MaildirStore::open(const UserRecord& user) {
  const std::string& path = user.maildir;
  if (path.empty()) return failure(OpenStatus::kPermFail, "no maildir configured");

  auto root = open_or_create_root(path);
  if (!root) return failure(root.error(), path);
  auto lock = MaildropLock::acquire(root->get());
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

  auto drop = std::make_unique<MaildirMaildrop>(path, std::move(*lock), std::move(*root),
                                                std::move(*cur), std::move(*fresh));
  if (Status s = drop->snapshot(); !s) return failure(s.error(), path);

  OpenOutcome out;
  out.status = OpenStatus::kOk;
  out.maildrop = std::move(drop);
  return out;
}

}  // namespace pop3d
