#include "auth/passwd_file_users.hpp"

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

}  // namespace

PasswdFileUsers::PasswdFileUsers(std::string path, std::string mail_location,
                                 std::chrono::milliseconds recheck_interval)
    : path_(std::move(path)),
      mail_location_(std::move(mail_location)),
      recheck_interval_(recheck_interval) {
  initial_status_ = load();
  last_check_ = Clock::now();
}

Status PasswdFileUsers::load() {
  Result<LoadedPasswdFile> loaded = load_passwd_file(path_);
  if (!loaded) {
    const std::string& why = loaded.error().message;
    // A file that stays broken is reported once, not once per second.
    if (why != last_error_) {
      log_error("passwd-file: " + log_escape(why, 400) +
                (table_ ? "; keeping the users loaded before" : "; logins fail until it is fixed"));
      last_error_ = why;
    }
    return loaded.error();
  }
  table_ = std::move(loaded->table);
  identity_ = loaded->identity;
  // Once per load, not per check: the dummy follows the cost class most
  // users have, but holds nothing of any user's secret.
  const PasswdEntry* model = table_->find(table_->typical_user);
  dummy_hash_ = model != nullptr ? make_dummy_hash(model->secret.view()) : make_dummy_hash();
  last_error_.clear();
  log_info("passwd-file " + log_escape(path_, 400) + ": " + std::to_string(table_->users.size()) +
           " users loaded, " + std::to_string(table_->skipped_lines) + " lines skipped, " +
           std::to_string(table_->unusable_users) + " users cannot log in");
  return {};
}

void PasswdFileUsers::reload_if_changed() {
  const Clock::time_point now = Clock::now();
  if (now - last_check_ < recheck_interval_) return;
  last_check_ = now;
  Result<FileIdentity> current = stat_passwd_file(path_);
  if (current && table_ && *current == identity_) return;
  // Changed, gone, or never loaded: load() keeps the old table on failure.
  (void)load();
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
  outcome.reason = "password accepted";
  return outcome;
}

void PasswdFileUsers::spend_typical_verification_time(std::string_view password) const {
  // The outcome is decided already; only the time spent matters. The
  // dummy has the scheme and cost of the typical user's secret, so this
  // costs what logging in as most users costs.
  (void)verify_password(dummy_hash_.view(), password);
}

AuthOutcome PasswdFileUsers::authenticate(std::string_view user, std::string_view password) {
  reload_if_changed();
  if (!table_) return temp_fail();
  const PasswdEntry* entry = table_->find(user);
  if (entry == nullptr) {
    spend_typical_verification_time(password);
    return refuse(AuthStatus::kUnknownUser, "unknown user");
  }
  const std::string_view secret = entry->secret.view();
  if (secret.empty()) {
    spend_typical_verification_time(password);
    return refuse(AuthStatus::kBadPassword, "no password set");
  }
  if (parse_secret(secret).scheme == PasswordScheme::kUnsupported) {
    spend_typical_verification_time(password);
    return refuse(AuthStatus::kBadPassword, "unsupported password scheme");
  }
  if (cache_.contains(user, secret, password)) return accept(*entry);
  if (!verify_password(secret, password)) return refuse(AuthStatus::kBadPassword, "wrong password");
  cache_.remember(user, secret, password);
  return accept(*entry);
}

AuthOutcome PasswdFileUsers::authenticate_apop(std::string_view user, std::string_view timestamp,
                                               std::string_view digest) {
  reload_if_changed();
  if (!table_) return temp_fail();
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
  reload_if_changed();
  return table_ && table_->plaintext_users > 0;
}

}  // namespace pop3d
