#include "mailstore/maildir_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "auth/mail_location.hpp"
#include "log/logger.hpp"
#include "mailstore/crlf_size.hpp"
#include "mailstore/maildir_flags.hpp"
#include "mailstore/maildir_index.hpp"
#include "mailstore/maildir_name.hpp"
#include "mailstore/maildir_quota.hpp"
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
                  std::string& arena, std::vector<ListedName>& out, bool& truncated) {
  // A fresh open file description, so this listing's position is its own.
  const int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno("open " + dir_label);
  DirHandle dir(::fdopendir(fd));
  if (!dir) {
    const int err = errno;
    ::close(fd);
    return Error::from_errno("fdopendir " + dir_label, err);
  }
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
    if (out.size() >= limit) {
      if (!quiet)
        log_warning("maildir: more than " + std::to_string(limit) + " files in " + dir_label +
                    "; the rest wait for a later session");
      truncated = true;
      break;
    }
    const size_t len = std::strlen(entry->d_name);
    out.push_back(
        ListedName{static_cast<uint32_t>(arena.size()), static_cast<uint32_t>(len), in_new});
    arena.append(entry->d_name, len);
  }
  return {};
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

// Renames from_fd/<name> to cur/<target> (a move from new/, or a flag
// change within cur/) without ever replacing a file in cur/; 0 or errno.
int rename_into_cur(int from_fd, const std::string& name, int cur_fd, const std::string& target) {
  if (::renameat2(from_fd, name.c_str(), cur_fd, target.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  // File systems without RENAME_NOREPLACE: link fails rather than replace.
  if (::linkat(from_fd, name.c_str(), cur_fd, target.c_str(), 0) != 0) return errno;
  ::unlinkat(from_fd, name.c_str(), 0);
  return 0;
}

// Reads a message once to learn its wire size and whether it can be sent
// unchanged: exactly st_size bytes, so no read is spent finding the end.
Result<IndexEntry> measure_message(int dir_fd, const char* name, std::vector<char>& buf) {
  UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
  if (!fd) return Error::from_errno("open");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("fstat");
  if (!S_ISREG(st.st_mode)) return Error{"not a regular file", 0};
  CrlfCounter counter;
  // Maildir messages never change once delivered; a file that shrank
  // meanwhile ends the loop at its EOF.
  uint64_t left = st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
  while (left > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    const ssize_t n = ::read(fd.get(), buf.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("read");
    if (n == 0) break;
    counter.feed(buf.data(), static_cast<size_t>(n));
    left -= static_cast<uint64_t>(n);
  }
  return IndexEntry{counter.size(), counter.plain_sendable()};
}

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// How far the clock must be past a folder's mtime before a listing of it
// may be recorded with that mtime, when the commit itself just changed the
// folder. Linux stamps a directory change from the coarse real-time clock,
// one timer tick behind at most (1 ms at HZ=1000, 10 ms at HZ=100; 4 ms on
// the bench machine: HZ=250, clock_getres(CLOCK_REALTIME_COARSE) = 4 ms);
// ext4, XFS and tmpfs keep nanoseconds, and multigrain timestamps (6.13+)
// are finer still, never coarser. Once the clock is this far past the
// mtime, any later change gets a strictly later mtime. Five times the
// coarsest tick; it is also the most a QUIT ever waits.
constexpr int64_t kCommitSettleNs = 50'000'000;

// The age a folder's mtime needs before its listing can be recorded: a
// file system with whole-second stamps (ext4 with 128-byte inodes, ext3,
// some network file systems) shows tv_nsec = 0, and then only the login's
// one-second rule is safe. A fine-grained mtime that happens to be a whole
// second only costs a listing.
int64_t settle_for(int64_t mtime) {
  return mtime % 1'000'000'000 == 0 ? kStampSettleNs : kCommitSettleNs;
}

// Sleeps until CLOCK_REALTIME reaches `deadline_ns`.
void sleep_until(int64_t deadline_ns) {
  const timespec until{static_cast<time_t>(deadline_ns / 1'000'000'000),
                       static_cast<long>(deadline_ns % 1'000'000'000)};
  while (::clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &until, nullptr) == EINTR) {
  }
}

// One message of the snapshot. Its file name lives in the maildrop's name
// arena; 40 bytes a message, no allocation of its own.
struct MaildirMessage {
  uint32_t name_offset = 0;
  uint32_t name_length = 0;
  uint32_t base_length = 0;
  bool in_new = false;     // still in new/; moved to cur/ at commit
  bool broken = false;     // unreadable or gone at login: not in the snapshot
  bool removed = false;    // unlinked (or found gone) at commit
  uint64_t delivered = 0;  // the timestamp at the start of the name
  IndexEntry entry;
};

class MaildirMaildrop : public Maildrop {
 public:
  MaildirMaildrop(std::string path, MaildropLock lock, UniqueFd root, UniqueFd cur, UniqueFd fresh)
      : lock_(std::move(lock)),
        path_(std::move(path)),
        root_(std::move(root)),
        cur_(std::move(cur)),
        new_(std::move(fresh)) {}

  // Takes the snapshot the session works on. Moves nothing: new/ mail goes
  // to cur/ at commit.
  Status snapshot();

  // Puts the snapshot in the source's order with its UIDLs.
  Status take_uids(UidSource& source);

  size_t count() const override { return messages_.size(); }
  const MessageInfo& info(size_t index) const override;
  uint64_t size(size_t index) const override { return messages_[at(index)].entry.size; }
  ~MaildirMaildrop() override;

  Result<UniqueFd> open_message(size_t index) override;
  void correct_size(size_t index, std::optional<FileMeasure> measured) override;
  Result<CommitStats> commit(const std::vector<bool>& deleted) override;
  Result<CommitStats> commit(const std::vector<bool>& deleted,
                             const std::vector<bool>& retrieved) override;

 private:
  // The snapshot position of the session's message `index`. messages_
  // stays in delivery order, which pop3d.index relies on.
  size_t at(size_t index) const { return order_.empty() ? index : order_[index]; }
  int dir_of(const MaildirMessage& m) const { return m.in_new ? new_.get() : cur_.get(); }
  std::string_view name(const MaildirMessage& m) const {
    return std::string_view(names_).substr(m.name_offset, m.name_length);
  }
  std::string_view base(const MaildirMessage& m) const {
    return std::string_view(names_).substr(m.name_offset, m.base_length);
  }
  // A NUL-terminated copy of the name for the *at() calls (names in the
  // arena are not terminated).
  std::string c_name(const MaildirMessage& m) const { return std::string(name(m)); }
  void set_name(MaildirMessage& m, std::string_view file_name);
  void from_index(MaildirIndex& index);
  Status from_listing(const MaildirIndex& index, DirStamps listed);
  void make_infos() const;
  // What pop3d.index records for messages_[i]: its entry, or what a RETR
  // or TOP found the file to be.
  const IndexEntry& entry_to_record(size_t i) const;
  bool write_index(DirStamps stamps);
  // After the commit's changes: the folders' stamps when a fresh listing of
  // both, taken once their mtimes are safely in the past, is exactly what
  // the snapshot now says they hold; unknown otherwise.
  DirStamps settled_stamps_after_commit();
  bool same_as(const MaildirIndex& index) const;
  // The current cur/ names by base name, for messages another client
  // renamed (flag change) since the snapshot.
  std::unordered_map<std::string, std::string> cur_names_by_base();

  MaildropLock lock_;  // declared first: released last
  std::string path_;   // for log lines
  UniqueFd root_, cur_, new_;
  std::string names_;  // every message's file name, back to back
  std::vector<MaildirMessage> messages_;
  // UIDLs are made on first use (UIDL, or a client that never asks pays
  // nothing for them).
  mutable std::vector<MessageInfo> infos_;  // by session position
  std::vector<uint32_t> order_;             // UidPlan::order
  std::vector<std::string> uidls_;          // UidPlan::uidls
  bool committed_ = false;
  // pop3d.index holds this snapshot with the folders' current stamps: a
  // commit that changes nothing has nothing to write.
  bool index_vouches_ = false;
  DirStamps vouched_stamps_;  // those stamps, when index_vouches_
  // Sizes found wrong while sending, by message index: the snapshot keeps
  // what the session listed, pop3d.index gets these. Rare, so a map and
  // not a field in every message.
  std::unordered_map<size_t, IndexEntry> corrected_;
};

// Delivery order, so message numbers follow arrival and stay stable; the
// base name breaks ties. The index keeps this order, so a listing can merge
// into it.
struct DeliveryOrder {
  const std::string* names;
  bool operator()(const MaildirMessage& a, const MaildirMessage& b) const {
    if (a.delivered != b.delivered) return a.delivered < b.delivered;
    const std::string_view all(*names);
    return all.substr(a.name_offset, a.base_length) < all.substr(b.name_offset, b.base_length);
  }
};

const MessageInfo& MaildirMaildrop::info(size_t index) const {
  // Made on first use: a session that only asks STAT and LIST (size())
  // never allocates or touches ~1 MB of them for 20,000 messages.
  if (infos_.size() != messages_.size()) make_infos();
  MessageInfo& info = infos_[index];
  if (info.uidl.empty()) {  // never empty once made
    const size_t i = at(index);
    info.uidl = uidls_.empty() ? maildir_uidl(base(messages_[i])) : uidls_[i];
  }
  return info;
}

void MaildirMaildrop::set_name(MaildirMessage& m, std::string_view file_name) {
  m.name_offset = static_cast<uint32_t>(names_.size());
  m.name_length = static_cast<uint32_t>(file_name.size());
  m.base_length = static_cast<uint32_t>(maildir_base_name(file_name).size());
  names_.append(file_name);
}

Status MaildirMaildrop::snapshot() {
  // The stamps come before the listing: a change while listing leaves the
  // folders newer than them, and the next login lists again.
  const int64_t started = now_ns();
  struct stat cur_st, new_st;
  if (::fstat(cur_.get(), &cur_st) != 0) return Error::from_errno("fstat cur");
  if (::fstat(new_.get(), &new_st) != 0) return Error::from_errno("fstat new");
  const DirStamps now_stamps{mtime_ns(cur_st), mtime_ns(new_st)};

  MaildirIndex index = MaildirIndex::load(root_.get());
  if (index.state() == MaildirIndex::State::kCorrupt)
    log_warning("maildir " + log_escape(path_) + ": " + kMaildirIndexFile +
                " is damaged; rebuilding it");
  if (index.state() == MaildirIndex::State::kLoaded && index.stamps().known() &&
      index.stamps() == now_stamps) {
    // Neither folder changed since the index was written from a listing:
    // the index is the listing.
    from_index(index);
    index_vouches_ = true;
    vouched_stamps_ = now_stamps;
    return {};
  }
  // Folders touched within the settle time may change again in the same
  // mtime tick without their stamp moving: such a listing is not recorded.
  const bool settled = now_stamps.cur_ns <= started - kStampSettleNs &&
                       now_stamps.new_ns <= started - kStampSettleNs;
  if (Status s = from_listing(index, settled ? now_stamps : DirStamps{}); !s) return s;
  return {};
}

void MaildirMaildrop::from_index(MaildirIndex& index) {
  const auto& records = index.records();
  std::unique_ptr<std::string> text = index.take_text();
  messages_.reserve(records.size());
  for (const IndexRecord& r : records) {
    MaildirMessage m;
    m.name_offset = static_cast<uint32_t>(r.file_name.data() - text->data());
    m.name_length = static_cast<uint32_t>(r.file_name.size());
    m.base_length = r.base_length;
    m.in_new = r.in_new;
    m.entry = r.entry;
    messages_.push_back(m);
  }
  names_ = std::move(*text);
}

Status MaildirMaildrop::from_listing(const MaildirIndex& index, DirStamps listed) {
  std::vector<ListedName> listing;
  bool incomplete = false;
  if (Status s = list_files(cur_.get(), log_escape(path_) + "/cur", kMaxMaildropMessages, false,
                            false, names_, listing, incomplete);
      !s)
    return s;
  if (Status s = list_files(new_.get(), log_escape(path_) + "/new", kMaxMaildropMessages, false,
                            true, names_, listing, incomplete);
      !s)
    return s;

  // Names the index knows take its slot (and its order and size); the rest
  // are measured and merged in.
  const auto& records = index.records();
  std::vector<MaildirMessage> known(records.size());
  std::vector<bool> have(records.size(), false);
  std::vector<MaildirMessage> fresh;
  auto ignore = [this](std::string_view n) {
    log_warning("maildir " + log_escape(path_) + ": ignoring duplicate " + log_escape(n));
  };
  for (const ListedName& l : listing) {
    const std::string_view file_name = std::string_view(names_).substr(l.offset, l.length);
    MaildirMessage m;
    m.name_offset = l.offset;
    m.name_length = l.length;
    m.base_length = static_cast<uint32_t>(maildir_base_name(file_name).size());
    m.in_new = l.in_new;
    if (m.base_length == 0) {
      log_warning("maildir " + log_escape(path_) + ": skipping nameless file " +
                  log_escape(file_name));
      incomplete = true;
      continue;
    }
    if (!indexable_name(file_name)) incomplete = true;  // the index cannot stand for it
    const size_t pos = index.position(base(m));
    if (pos == MaildirIndex::npos) {
      m.delivered = maildir_delivery_time(base(m));
      fresh.push_back(m);
      continue;
    }
    m.entry = records[pos].entry;
    if (have[pos]) {
      // One base name, one message: a copy under another name would give
      // two messages the same UIDL. cur/ wins (a move never clobbers it).
      MaildirMessage& kept = known[pos];
      const bool replace =
          (kept.in_new && !m.in_new) || (kept.in_new == m.in_new && file_name < name(kept));
      ignore(replace ? name(kept) : file_name);
      if (replace) kept = m;
      continue;
    }
    have[pos] = true;
    m.delivered = maildir_delivery_time(base(m));
    known[pos] = m;
  }

  // New names: delivery order, one message per base name (cur/ first).
  DeliveryOrder order{&names_};
  std::sort(fresh.begin(), fresh.end(), [&](const MaildirMessage& a, const MaildirMessage& b) {
    if (order(a, b)) return true;
    if (order(b, a)) return false;
    if (a.in_new != b.in_new) return !a.in_new;
    return name(a) < name(b);
  });
  auto dup = std::unique(fresh.begin(), fresh.end(),
                         [&](const MaildirMessage& a, const MaildirMessage& b) {
                           if (base(a) != base(b)) return false;
                           ignore(name(b));
                           return true;
                         });
  fresh.erase(dup, fresh.end());

  std::vector<char> buf;
  for (auto& m : fresh) {
    if (auto w = maildir_wire_size_field(base(m))) {
      // Exact, and free; whether it is plain-sendable stays unknown.
      m.entry = IndexEntry{*w, false};
      continue;
    }
    if (buf.empty()) buf.resize(kSizeReadChunk);
    auto measured = measure_message(dir_of(m), c_name(m).c_str(), buf);
    if (!measured) {
      // Gone since the listing, or unreadable: not part of this maildrop.
      if (measured.error().sys_errno != ENOENT) {
        log_warning("maildir " + log_escape(path_) + ": skipping " + log_escape(name(m)) + ": " +
                    measured.error().message);
        incomplete = true;  // still there: try again next login
      }
      m.broken = true;
      continue;
    }
    m.entry = *measured;
  }
  std::erase_if(fresh, [](const MaildirMessage& m) { return m.broken; });

  std::vector<MaildirMessage> kept;
  kept.reserve(records.size());
  for (size_t i = 0; i < known.size(); ++i)
    if (have[i]) kept.push_back(known[i]);
  messages_.reserve(kept.size() + fresh.size());
  std::merge(kept.begin(), kept.end(), fresh.begin(), fresh.end(), std::back_inserter(messages_),
             order);

  // The index is rewritten when it no longer says what the folders hold, or
  // when this listing can stand in for the next one and it could not.
  const DirStamps stamps = incomplete ? DirStamps{} : listed;
  if (index.state() == MaildirIndex::State::kCorrupt || !same_as(index) ||
      (stamps.known() && stamps != index.stamps())) {
    index_vouches_ = write_index(stamps) && stamps.known();
  } else {
    index_vouches_ = stamps.known();
  }
  if (index_vouches_) vouched_stamps_ = stamps;
  return {};
}

bool MaildirMaildrop::same_as(const MaildirIndex& index) const {
  const auto& records = index.records();
  if (records.size() != messages_.size()) return false;
  for (size_t i = 0; i < records.size(); ++i) {
    const MaildirMessage& m = messages_[i];
    const IndexRecord& r = records[i];
    if (r.in_new != m.in_new || r.entry.size != m.entry.size ||
        r.entry.plain_sendable != m.entry.plain_sendable || r.file_name != name(m))
      return false;
  }
  return true;
}

void MaildirMaildrop::make_infos() const {
  infos_.resize(messages_.size());
  for (size_t i = 0; i < messages_.size(); ++i) {
    infos_[i].size = messages_[at(i)].entry.size;
    infos_[i].plain_sendable = messages_[at(i)].entry.plain_sendable;
  }
}

Status MaildirMaildrop::take_uids(UidSource& source) {
  std::vector<std::string_view> bases;
  bases.reserve(messages_.size());
  for (const MaildirMessage& m : messages_) bases.push_back(base(m));
  auto plan = source.plan(bases);
  if (!plan) return plan.error();
  if ((!plan->order.empty() && plan->order.size() != messages_.size()) ||
      (!plan->uidls.empty() && plan->uidls.size() != messages_.size())) {
    return Error{"UID source answered for another number of messages", 0};
  }
  order_ = std::move(plan->order);
  uidls_ = std::move(plan->uidls);
  infos_.clear();
  return {};
}

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
  return true;
}

DirStamps MaildirMaildrop::settled_stamps_after_commit() {
  // We hold the lock, so no other pop3d session changes the folders; a
  // delivery or another mail reader may, at any moment. The rule:
  //  1. wait until the clock is past both mtimes by the settle margin, so
  //     any change from now on gets a strictly later mtime;
  //  2. list both folders; anything done before the listing is in it;
  //  3. stat both again: the same mtimes as before the listing mean no
  //     change landed during it, and one after it will show at the next
  //     login as a different mtime.
  // Any doubt gives unknown stamps: the next login lists, as before.
  struct stat cur_st, new_st;
  if (::fstat(cur_.get(), &cur_st) != 0 || ::fstat(new_.get(), &new_st) != 0) return {};
  const DirStamps before{mtime_ns(cur_st), mtime_ns(new_st)};
  const int64_t deadline = std::max(before.cur_ns + settle_for(before.cur_ns),
                                    before.new_ns + settle_for(before.new_ns));
  const int64_t now = now_ns();
  if (deadline - now > kCommitSettleNs) return {};  // whole-second stamps, or a clock behind
  if (deadline > now) sleep_until(deadline);

  size_t expected = 0;
  std::unordered_set<std::string_view> in_cur, in_new;
  for (const MaildirMessage& m : messages_)
    if (!m.removed) ++expected;
  in_cur.reserve(expected);
  in_new.reserve(expected);
  for (const MaildirMessage& m : messages_)
    if (!m.removed) (m.in_new ? in_new : in_cur).insert(name(m));

  std::string arena;
  std::vector<ListedName> listing;
  listing.reserve(expected + 1);
  bool truncated = false;
  // One name more than expected is already a mismatch.
  const size_t limit = expected + 1;
  if (!list_files(cur_.get(), "cur", limit, true, false, arena, listing, truncated) ||
      !list_files(new_.get(), "new", limit, true, true, arena, listing, truncated) || truncated ||
      listing.size() != expected)
    return {};
  for (const ListedName& l : listing) {
    const std::string_view n = std::string_view(arena).substr(l.offset, l.length);
    // Names in a folder are unique, so as many hits as names is a match.
    if (!(l.in_new ? in_new : in_cur).contains(n)) return {};
  }

  if (::fstat(cur_.get(), &cur_st) != 0 || ::fstat(new_.get(), &new_st) != 0) return {};
  const DirStamps after{mtime_ns(cur_st), mtime_ns(new_st)};
  if (after != before || !before.known()) return {};
  return before;
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
  // A session that ends without QUIT commits nothing, but what it learnt
  // about sizes must reach pop3d.index all the same, or the next session
  // lists the wrong size again. The records are this snapshot's, so the
  // stamps the index holds for it stay sound. The lock is still held.
  if (!committed_ && !corrected_.empty())
    write_index(index_vouches_ ? vouched_stamps_ : DirStamps{});
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
  // The index is rewritten with stamps that let the next login skip the
  // listing, when they can be had soundly (see settled_stamps_after_commit;
  // at most kCommitSettleNs of waiting, and only when a folder changed that
  // recently); or without, and the next login lists again.
  if (index_touched || !index_vouches_) {
    const DirStamps stamps = settled_stamps_after_commit();
    if (index_touched || stamps.known()) write_index(stamps);
  }

  if (sync_error) return *sync_error;
  if (failed > 0) return Error{std::to_string(failed) + " message(s) could not be deleted", 0};
  return stats;
}

}  // namespace

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

  auto drop = std::make_unique<MaildirMaildrop>(path, std::move(*lock), std::move(*root),
                                                std::move(*cur), std::move(*fresh));
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
