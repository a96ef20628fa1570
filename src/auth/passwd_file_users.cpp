#include "auth/passwd_file_users.hpp"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "auth/dummy_hash.hpp"
#include "auth/mail_location.hpp"
#include "auth/password_scheme.hpp"
#include "log/logger.hpp"

namespace pop3d {

namespace {

AuthOutcome refuse(AuthStatus status, std::string reason) {
  AuthOutcome outcome;
  outcome.status = status;
  outcome.reason = std::move(reason);
  return outcome;
}

std::string directory_of(const std::string& file) {
  const size_t slash = file.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : file.substr(0, slash);
}

std::string name_of(const std::string& file) {
  const size_t slash = file.rfind('/');
  return slash == std::string::npos ? file : file.substr(slash + 1);
}

// Events that end a change: the file is complete, or gone.
constexpr uint32_t kFinishedChange = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE;
// Events of a change that may go on (a write to a file still open, a
// link or file just created, a chmod).
constexpr uint32_t kOngoingChange = IN_MODIFY | IN_CREATE | IN_ATTRIB;
// The directory itself went away: its watch is dead.
constexpr uint32_t kWatchLost = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT;
// A file and the target of its symlink: two directories. A bound, so that a
// file whose symlink keeps moving cannot make the watch grow for ever.
constexpr size_t kMaxWatchedNames = 8;

}  // namespace

// ---------------------------------------------------------------- version

std::shared_ptr<PasswdTableVersion> PasswdTableVersion::create() {
  std::shared_ptr<PasswdTableVersion> v(new PasswdTableVersion());
  const long page = ::sysconf(_SC_PAGESIZE);
  v->size_ = page > 0 ? static_cast<size_t>(page) : 4096;
  // The master writes through a mapping that each worker unmaps as it
  // starts (drop_write_access), before it reads from any client; the one
  // left is of a read-only descriptor, which mprotect cannot make
  // writable. (Not MADV_DONTFORK: the master itself is forked from the
  // process that made the page when it daemonizes.)
  const UniqueFd rw(::memfd_create("pop3d-passwd-version", MFD_CLOEXEC));
  if (rw && ::ftruncate(rw.get(), static_cast<off_t>(v->size_)) == 0) {
    const std::string self = "/proc/self/fd/" + std::to_string(rw.get());
    const UniqueFd ro(::open(self.c_str(), O_RDONLY | O_CLOEXEC));
    void* w = ::mmap(nullptr, v->size_, PROT_READ | PROT_WRITE, MAP_SHARED, rw.get(), 0);
    void* r = ro ? ::mmap(nullptr, v->size_, PROT_READ, MAP_SHARED, ro.get(), 0) : MAP_FAILED;
    if (w != MAP_FAILED && r != MAP_FAILED) {
      v->writable_ = static_cast<uint64_t*>(w);
      v->readable_ = static_cast<const uint64_t*>(r);
      return v;
    }
    if (w != MAP_FAILED) ::munmap(w, v->size_);
    if (r != MAP_FAILED) ::munmap(r, v->size_);
  }
  void* shared =
      ::mmap(nullptr, v->size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared != MAP_FAILED) {
    v->writable_ = static_cast<uint64_t*>(shared);
    v->readable_ = v->writable_;
  }
  // No page at all: every table counts as current, as before there was one.
  return v;
}

void PasswdTableVersion::drop_write_access() {
  if (writable_ != nullptr && writable_ != readable_) {
    ::munmap(writable_, size_);
    writable_ = nullptr;
  }
}

PasswdTableVersion::~PasswdTableVersion() {
  if (writable_ != nullptr && writable_ != readable_) ::munmap(writable_, size_);
  if (readable_ != nullptr) ::munmap(const_cast<uint64_t*>(readable_), size_);
}

uint64_t PasswdTableVersion::current() const {
  return readable_ != nullptr ? __atomic_load_n(readable_, __ATOMIC_ACQUIRE) : 0;
}

uint64_t PasswdTableVersion::publish(const FileIdentity& identity) {
  if (writable_ == nullptr) return 0;
  if (!published_ || !(*published_ == identity)) {
    __atomic_store_n(writable_, current() + 1, __ATOMIC_RELEASE);
    published_ = identity;
  }
  return current();
}

// ---------------------------------------------------------------- users

PasswdFileUsers::PasswdFileUsers(std::string path, std::string mail_location,
                                 std::shared_ptr<PasswdTableVersion> version)
    : path_(std::move(path)),
      mail_location_(std::move(mail_location)),
      version_(version ? std::move(version) : PasswdTableVersion::create()) {
  initial_status_ = load(false);
}

Status PasswdFileUsers::load() {
  return load(false);
}

Status PasswdFileUsers::load(bool refuse_new_bad_lines) {
  Result<LoadedPasswdFile> loaded = load_passwd_file(path_);
  if (loaded && refuse_new_bad_lines && table_ &&
      loaded->table.skipped_lines > table_->skipped_lines) {
    // The bad lines were named, with their numbers, as the file was read.
    loaded = Error{path_ + " has " + std::to_string(loaded->table.skipped_lines) +
                       " malformed line(s) (see the warnings above), " +
                       std::to_string(table_->skipped_lines) + " before this edit",
                   0};
  }
  if (!loaded) {
    const std::string& why = loaded.error().message;
    // A file that stays broken is reported once, not once per look.
    if (why != last_error_) {
      log_error(
          "passwd-file: " + log_escape(why, 400) +
          (table_ ? "; keeping the " + std::to_string(table_->users.size()) + " users loaded before"
                  : "; logins fail until it is fixed"));
      last_error_ = why;
    }
    return loaded.error();
  }
  table_ = std::move(loaded->table);
  identity_ = loaded->identity;
  // Once per load, not per check: the dummies follow the users' cost
  // classes, but hold nothing of any user's secret.
  dummies_.clear();
  for (const std::string& login : table_->cost_class_models) {
    const PasswdEntry* model = table_->find(login);
    if (model == nullptr) continue;
    SecretString dummy = make_dummy_hash(model->secret.view());
    // A class this libcrypt can check but not make falls back to the
    // default one: its users then cost their own check more than others.
    dummies_.push_back(ClassDummy{verification_cost_class(dummy.view()), std::move(dummy)});
  }
  if (dummies_.empty()) {
    SecretString dummy = make_dummy_hash();
    dummies_.push_back(ClassDummy{verification_cost_class(dummy.view()), std::move(dummy)});
  }
  last_error_.clear();
  refused_identity_.reset();
  log_info("passwd-file " + log_escape(path_, 400) + ": " + std::to_string(table_->users.size()) +
           " users loaded, " + std::to_string(table_->skipped_lines) + " lines skipped, " +
           std::to_string(table_->unusable_users) + " users cannot log in");
  return {};
}

PasswdReload PasswdFileUsers::reload_if_changed() {
  Result<FileIdentity> current = stat_passwd_file(path_);
  // A file that cannot be stat'ed at all is one state too ("gone"), so that
  // it is reported once rather than at every look.
  const FileIdentity seen = current ? *current : FileIdentity{};
  if (table_ && current && seen == identity_) return PasswdReload::kUnchanged;
  if (refused_identity_ && *refused_identity_ == seen) return PasswdReload::kUnchanged;
  if (load(true)) {
    publish();
    return PasswdReload::kReloaded;
  }
  refused_identity_ = seen;
  return PasswdReload::kKeptOld;
}

void PasswdFileUsers::publish() {
  if (table_) table_version_ = version_->publish(identity_);
}

bool PasswdFileUsers::table_is_stale() const {
  return version_->current() != table_version_;
}

AuthOutcome PasswdFileUsers::temp_fail() const {
  return refuse(AuthStatus::kTempFail, "passwd file cannot be read: " + last_error_);
}

AuthOutcome PasswdFileUsers::accept(const PasswdEntry& entry) const {
  Result<std::string> maildir = expand_mail_location(mail_location_, entry.name, entry.home);
  if (!maildir) {
    return refuse(AuthStatus::kTempFail, "no mail location for " + log_escape(entry.name) + ": " +
                                             maildir.error().message);
  }
  AuthOutcome outcome;
  outcome.status = AuthStatus::kOk;
  outcome.user.name = entry.name;
  outcome.user.uid = entry.uid;
  outcome.user.gid = entry.gid;
  outcome.user.home = entry.home;
  outcome.user.maildir = std::move(maildir).value();
  outcome.user.extra = entry.extra;
  outcome.reason = "password accepted";
  return outcome;
}

AuthOutcome PasswdFileUsers::record_of(std::string_view user) const {
  if (!table_) return temp_fail();
  const PasswdEntry* entry = table_->find(user);
  if (entry == nullptr) return refuse(AuthStatus::kUnknownUser, "unknown user");
  return accept(*entry);
}

void PasswdFileUsers::spend_other_classes(std::string_view password,
                                          std::string_view own_class) const {
  // The outcome is decided already; only the time spent matters.
  for (const ClassDummy& d : dummies_) {
    if (d.cost_class != own_class) (void)verify_password(d.hash.view(), password);
  }
}

void PasswdFileUsers::spend_as_for_a_wrong_password(std::string_view user,
                                                    std::string_view password) const {
  // A known name's wrong password costs a look in the login cache (an
  // HMAC) before its check: without the same look here, the HMAC alone
  // told names apart where the check is cheap ({PLAIN}: 15 us of 75 us,
  // bench/auth-timing).
  (void)cache_.contains(user, dummies_.front().hash.view(), password);
  spend_other_classes(password, {});
}

AuthOutcome PasswdFileUsers::authenticate(std::string_view user, std::string_view password) {
  if (!table_) return temp_fail();
  if (table_is_stale()) {
    return refuse(AuthStatus::kTempFail,
                  "the passwd-file changed; this worker's copy is out of date and being replaced");
  }
  const PasswdEntry* entry = table_->find(user);
  if (entry == nullptr) {
    spend_as_for_a_wrong_password(user, password);
    return refuse(AuthStatus::kUnknownUser, "unknown user");
  }
  const std::string_view secret = entry->secret.view();
  if (secret.empty()) {
    spend_as_for_a_wrong_password(user, password);
    return refuse(AuthStatus::kBadPassword, "no password set");
  }
  if (parse_secret(secret).scheme == PasswordScheme::kUnsupported) {
    spend_as_for_a_wrong_password(user, password);
    return refuse(AuthStatus::kBadPassword, "unsupported password scheme");
  }
  if (cache_.contains(user, secret, password)) return accept(*entry);
  if (!verify_password(secret, password)) {
    // Its own check was the one of its class; the others' make it cost
    // what an unknown name costs (see dummies_).
    spend_other_classes(password, verification_cost_class(secret));
    return refuse(AuthStatus::kBadPassword, "wrong password");
  }
  cache_.remember(user, secret, password);
  return accept(*entry);
}

AuthOutcome PasswdFileUsers::authenticate_apop(std::string_view user, std::string_view timestamp,
                                               std::string_view digest) {
  if (!table_) return temp_fail();
  if (table_is_stale()) {
    return refuse(AuthStatus::kTempFail,
                  "the passwd-file changed; this worker's copy is out of date and being replaced");
  }
  const PasswdEntry* entry = table_->find(user);
  if (entry == nullptr) {
    // The same MD5 a known user costs; the outcome is fixed already.
    (void)verify_apop("{PLAIN}-", timestamp, digest);
    return refuse(AuthStatus::kUnknownUser, "unknown user");
  }
  if (!is_plaintext_recoverable(entry->secret.view())) {
    return refuse(AuthStatus::kBadPassword, "APOP needs a {PLAIN} secret, this user has none");
  }
  if (!verify_apop(entry->secret.view(), timestamp, digest)) {
    return refuse(AuthStatus::kBadPassword, "wrong APOP digest");
  }
  return accept(*entry);
}

bool PasswdFileUsers::apop_available() {
  return table_ && table_->plaintext_users > 0;
}

// ---------------------------------------------------------------- watch

PasswdFileWatch::PasswdFileWatch(const std::string& path) : path_(path) {
  fd_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd_) return;
  refresh();
  if (watches_.empty()) fd_.reset();
}

void PasswdFileWatch::watch_directory_of(const std::string& file) {
  const std::string name = name_of(file);
  if (std::find(names_.begin(), names_.end(), name) == names_.end()) {
    if (names_.size() >= kMaxWatchedNames) return;
    names_.push_back(name);
  }
  const int wd = ::inotify_add_watch(
      fd_.get(), directory_of(file).c_str(),
      kFinishedChange | kOngoingChange | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
  if (wd >= 0 && std::find(watches_.begin(), watches_.end(), wd) == watches_.end()) {
    watches_.push_back(wd);
  }
}

void PasswdFileWatch::refresh() {
  if (!fd_) return;
  watch_directory_of(path_);
  // An edit of a symlink's target happens in the target's directory.
  std::array<char, PATH_MAX> target{};
  if (::realpath(path_.c_str(), target.data()) != nullptr && path_ != target.data()) {
    watch_directory_of(target.data());
  }
}

PasswdFileWatch::Events PasswdFileWatch::drain() {
  Events out;
  if (!fd_) return out;
  // Large enough for many events at once; more are read in the next round.
  alignas(inotify_event) std::array<char, 16 * (sizeof(inotify_event) + NAME_MAX + 1)> buf;
  bool lost = false;
  for (;;) {
    const ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EAGAIN: all read
    for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf.data() + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {
        out.check_now = true;  // events were dropped: look for ourselves
        continue;
      }
      if (ev->mask & kWatchLost) {
        auto it = std::find(watches_.begin(), watches_.end(), ev->wd);
        if (it != watches_.end()) {
          watches_.erase(it);
          lost = true;
        }
        continue;
      }
      const std::string_view name = ev->len > 0 ? std::string_view(ev->name) : std::string_view();
      if (std::find(names_.begin(), names_.end(), name) == names_.end()) continue;
      if (ev->mask & kFinishedChange) out.check_now = true;
      if (ev->mask & kOngoingChange) out.check_later = true;
    }
  }
  if (lost) {
    // A directory that is gone cannot be watched until it is back; the
    // master polls from now on, and says so.
    log_warning("passwd-file " + log_escape(path_, 400) +
                ": its directory moved or went away; looking at the file every " +
                std::to_string(kPasswdPollInterval.count()) + " ms instead of watching it");
    fd_.reset();
    watches_.clear();
    out.check_now = true;
  }
  return out;
}

}  // namespace pop3d
