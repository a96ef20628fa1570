#include "auth/system_users.hpp"

#include <pwd.h>
#include <security/pam_appl.h>
#include <shadow.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include "auth/dummy_hash.hpp"
#include "auth/mail_location.hpp"
#include "auth/password_scheme.hpp"

namespace pop3d {

namespace {

// getpwnam_r/getspnam_r buffers: an entry is a few hundred bytes, but NSS
// back-ends may return long gecos or home fields; ERANGE doubles it up to
// the maximum.
constexpr size_t kNssFirstBuffer = 4096;
constexpr size_t kNssMaxBuffer = 1 << 20;
// System user names: useradd allows 32 characters; NSS sources may hold
// longer ones, 64 is plenty and keeps the protocol's fields small.
constexpr size_t kMaxSystemUserName = 64;
constexpr long kSecondsPerDay = 24L * 3600;

bool locked_hash(std::string_view hash) {
  return hash.empty() || hash[0] == '!' || hash[0] == '*';
}

// The answer for an account that passed its checks: its record, or
// kNoMailLocation when auth.mail_location does not expand for it.
SystemCheckResult logged_in(const std::string& mail_location, const SystemAccount& account) {
  SystemCheckResult result;
  Result<std::string> maildir = expand_mail_location(mail_location, account.name, account.home);
  if (!maildir) {
    result.check = AccountCheck::kNoMailLocation;
    return result;
  }
  result.check = AccountCheck::kOk;
  result.user.name = account.name;
  result.user.uid = account.uid;
  result.user.gid = account.gid;
  result.user.home = account.home;
  result.user.maildir = std::move(maildir).value();
  return result;
}

}  // namespace

const char* account_check_name(AccountCheck check) {
  switch (check) {
    case AccountCheck::kOk:
      return "password accepted";
    case AccountCheck::kUnknownUser:
      return "unknown user";
    case AccountCheck::kBadPassword:
      return "wrong password";
    case AccountCheck::kLocked:
      return "account locked or without password";
    case AccountCheck::kAccountExpired:
      return "account expired";
    case AccountCheck::kPasswordExpired:
      return "password expired";
    case AccountCheck::kUidTooLow:
      return "uid below auth.first_valid_uid";
    case AccountCheck::kRoot:
      return "root may not log in";
    case AccountCheck::kNoMailLocation:
      return "no mail location";
    case AccountCheck::kTempFail:
      return "user database unavailable";
    case AccountCheck::kTryLater:
      return "too many checks from this worker";
  }
  return "unknown";
}

AuthStatus auth_status_for(AccountCheck check) {
  switch (check) {
    case AccountCheck::kOk:
      return AuthStatus::kOk;
    case AccountCheck::kUnknownUser:
      return AuthStatus::kUnknownUser;
    case AccountCheck::kBadPassword:
    case AccountCheck::kLocked:
    case AccountCheck::kAccountExpired:
    case AccountCheck::kPasswordExpired:
    case AccountCheck::kUidTooLow:
    case AccountCheck::kRoot:
      return AuthStatus::kBadPassword;
    case AccountCheck::kNoMailLocation:
    case AccountCheck::kTempFail:
    case AccountCheck::kTryLater:
      return AuthStatus::kTempFail;
  }
  return AuthStatus::kTempFail;
}

Lookup<SystemAccount> NssAccountSource::find_account(const std::string& name) {
  Lookup<SystemAccount> out;
  for (size_t size = kNssFirstBuffer; size <= kNssMaxBuffer; size *= 2) {
    std::vector<char> buf(size);
    passwd pw{};
    passwd* found = nullptr;
    const int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE) continue;
    if (found == nullptr) {
      // 0 or ENOENT (and for some NSS modules ESRCH, EBADF, EPERM) mean
      // "no such user"; anything else is a database failure.
      out.status = rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM
                       ? LookupStatus::kNotFound
                       : LookupStatus::kError;
      return out;
    }
    out.status = LookupStatus::kFound;
    out.value.name = pw.pw_name;
    out.value.uid = pw.pw_uid;
    out.value.gid = pw.pw_gid;
    out.value.home = pw.pw_dir != nullptr ? pw.pw_dir : "";
    out.value.passwd_field = SecretString(pw.pw_passwd != nullptr ? pw.pw_passwd : "");
    OPENSSL_cleanse(buf.data(), buf.size());
    return out;
  }
  return out;
}

Lookup<ShadowEntry> NssAccountSource::find_shadow(const std::string& name) {
  Lookup<ShadowEntry> out;
  for (size_t size = kNssFirstBuffer; size <= kNssMaxBuffer; size *= 2) {
    std::vector<char> buf(size);
    spwd sp{};
    spwd* found = nullptr;
    const int rc = ::getspnam_r(name.c_str(), &sp, buf.data(), buf.size(), &found);
    if (rc == ERANGE) {
      OPENSSL_cleanse(buf.data(), buf.size());
      continue;
    }
    if (found == nullptr) {
      out.status = rc == 0 || rc == ENOENT ? LookupStatus::kNotFound : LookupStatus::kError;
      return out;
    }
    out.status = LookupStatus::kFound;
    out.value.hash = SecretString(sp.sp_pwdp != nullptr ? sp.sp_pwdp : "");
    out.value.last_change = sp.sp_lstchg;
    out.value.max_age = sp.sp_max;
    out.value.inactive = sp.sp_inact;
    out.value.expire = sp.sp_expire;
    OPENSSL_cleanse(buf.data(), buf.size());
    return out;
  }
  return out;
}

Result<UserRecord> system_user_record(AccountSource& source, const std::string& mail_location,
                                      uid_t first_valid_uid, const std::string& name) {
  Lookup<SystemAccount> account = source.find_account(name);
  if (account.status == LookupStatus::kNotFound) return Error{"no such user"};
  if (account.status != LookupStatus::kFound) return Error{"the account cannot be looked up"};
  if (account.value.uid == 0) return Error{account_check_name(AccountCheck::kRoot)};
  if (account.value.uid < first_valid_uid)
    return Error{account_check_name(AccountCheck::kUidTooLow)};
  SystemCheckResult r = logged_in(mail_location, account.value);
  if (r.check != AccountCheck::kOk) return Error{account_check_name(r.check)};
  return std::move(r.user);
}

AccountCheck check_account_policy(const SystemAccount& account, const ShadowEntry* shadow,
                                  long today, uid_t first_valid_uid) {
  if (account.uid == 0) return AccountCheck::kRoot;
  if (account.uid < first_valid_uid) return AccountCheck::kUidTooLow;
  const std::string_view field = account.passwd_field.view();
  const bool in_shadow = field == "x";
  if (in_shadow && shadow == nullptr) return AccountCheck::kLocked;
  if (locked_hash(in_shadow ? shadow->hash.view() : field)) return AccountCheck::kLocked;
  if (shadow != nullptr) {
    // As shadow(5) and login(1) read these fields.
    if (shadow->expire >= 0 && today >= shadow->expire) return AccountCheck::kAccountExpired;
    if (shadow->last_change == 0) return AccountCheck::kPasswordExpired;  // must change first
    if (shadow->last_change > 0 && shadow->max_age >= 0 &&
        today >= shadow->last_change + shadow->max_age) {
      return AccountCheck::kPasswordExpired;
    }
  }
  return AccountCheck::kOk;
}

bool is_valid_system_user_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxSystemUserName) return false;
  if (name[0] == '-' || name[0] == '.') return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

SystemUsers::SystemUsers(AccountSource& source, std::string mail_location, uid_t first_valid_uid)
    : source_(source),
      mail_location_(std::move(mail_location)),
      first_valid_uid_(first_valid_uid),
      dummy_hash_(make_dummy_hash()),
      dummy_class_(verification_cost_class(dummy_hash_.view())) {}

long SystemUsers::today() {
  return static_cast<long>(std::time(nullptr) / kSecondsPerDay);
}

void SystemUsers::spend_dummy_verification(std::string_view password) const {
  (void)verify_password(dummy_hash_.view(), password);
}

void SystemUsers::follow_cost_class(std::string_view stored) {
  std::string cost_class = verification_cost_class(stored);
  if (cost_class == dummy_class_) return;
  dummy_hash_ = make_dummy_hash(stored);
  // The model's class, not the dummy's: a method this libcrypt cannot make
  // gets the default dummy once, instead of a new one at every check.
  dummy_class_ = std::move(cost_class);
}

SystemCheckResult SystemUsers::check(std::string_view user, std::string_view password, long today) {
  SystemCheckResult result;
  if (!is_valid_system_user_name(user)) {
    spend_dummy_verification(password);
    result.check = AccountCheck::kUnknownUser;
    return result;
  }
  const std::string name(user);
  Lookup<SystemAccount> account = source_.find_account(name);
  if (account.status != LookupStatus::kFound) {
    spend_dummy_verification(password);
    result.check = account.status == LookupStatus::kNotFound ? AccountCheck::kUnknownUser
                                                             : AccountCheck::kTempFail;
    return result;
  }
  Lookup<ShadowEntry> shadow;
  const bool in_shadow = account.value.passwd_field.view() == "x";
  if (in_shadow) {
    shadow = source_.find_shadow(name);
    if (shadow.status == LookupStatus::kError) {
      spend_dummy_verification(password);
      result.check = AccountCheck::kTempFail;
      return result;
    }
  }
  const ShadowEntry* entry = shadow.status == LookupStatus::kFound ? &shadow.value : nullptr;
  const AccountCheck policy = check_account_policy(account.value, entry, today, first_valid_uid_);
  const std::string_view hash = in_shadow ? (entry ? entry->hash.view() : std::string_view{})
                                          : account.value.passwd_field.view();
  // Exactly one verification on every path, so the answer time does not
  // tell whether the account exists or is refused.
  bool matches = false;
  if (locked_hash(hash)) {
    spend_dummy_verification(password);
  } else {
    // The stored string is crypt(3) output; "{CRYPT}" keeps a hash that
    // happens to start with '{' from being read as a scheme name.
    const SecretString stored(std::string("{CRYPT}") + std::string(hash));
    matches = verify_password(stored.view(), password);
    follow_cost_class(stored.view());
  }
  if (policy != AccountCheck::kOk) {
    result.check = policy;
    return result;
  }
  if (!matches) {
    result.check = AccountCheck::kBadPassword;
    return result;
  }
  return logged_in(mail_location_, account.value);
}

// ---------------------------------------------------------------- PAM

namespace {

struct PamConversationData {
  std::string_view user;
  std::string_view password;
};

// Answers PAM's prompts: the password for hidden prompts, the user name
// for visible ones; messages get no answer. Responses are malloc'd, as PAM
// frees them.
int pam_conversation(int count, const pam_message** messages, pam_response** responses,
                     void* data_ptr) {
  if (count <= 0 || count > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
  auto* data = static_cast<PamConversationData*>(data_ptr);
  auto* replies =
      static_cast<pam_response*>(std::calloc(static_cast<size_t>(count), sizeof(pam_response)));
  if (replies == nullptr) return PAM_BUF_ERR;
  for (int i = 0; i < count; ++i) {
    std::string_view answer;
    switch (messages[i]->msg_style) {
      case PAM_PROMPT_ECHO_OFF:
        answer = data->password;
        break;
      case PAM_PROMPT_ECHO_ON:
        answer = data->user;
        break;
      case PAM_ERROR_MSG:
      case PAM_TEXT_INFO:
        continue;
      default:
        for (int j = 0; j < i; ++j) {
          if (replies[j].resp != nullptr) {
            OPENSSL_cleanse(replies[j].resp, std::strlen(replies[j].resp));
            std::free(replies[j].resp);
          }
        }
        std::free(replies);
        return PAM_CONV_ERR;
    }
    char* copy = static_cast<char*>(std::malloc(answer.size() + 1));
    if (copy == nullptr) {
      std::free(replies);
      return PAM_BUF_ERR;
    }
    std::memcpy(copy, answer.data(), answer.size());
    copy[answer.size()] = '\0';
    replies[i].resp = copy;
  }
  *responses = replies;
  return PAM_SUCCESS;
}

// PAM_FAIL_DELAY: called instead of PAM's own sleep after a failure.
void no_fail_delay(int, unsigned, void*) {}

AccountCheck check_of_auth_error(int rc) {
  switch (rc) {
    case PAM_USER_UNKNOWN:
      return AccountCheck::kUnknownUser;
    case PAM_AUTHINFO_UNAVAIL:
    case PAM_SYSTEM_ERR:
    case PAM_BUF_ERR:
    case PAM_ABORT:
    case PAM_SERVICE_ERR:
      return AccountCheck::kTempFail;
    default:  // PAM_AUTH_ERR, PAM_MAXTRIES, PAM_CRED_INSUFFICIENT, ...
      return AccountCheck::kBadPassword;
  }
}

AccountCheck check_of_account_error(int rc) {
  switch (rc) {
    case PAM_ACCT_EXPIRED:
      return AccountCheck::kAccountExpired;
    case PAM_NEW_AUTHTOK_REQD:
      return AccountCheck::kPasswordExpired;
    case PAM_USER_UNKNOWN:
      return AccountCheck::kUnknownUser;
    case PAM_SYSTEM_ERR:
    case PAM_BUF_ERR:
    case PAM_ABORT:
      return AccountCheck::kTempFail;
    default:  // PAM_PERM_DENIED, PAM_AUTH_ERR: the stack says no
      return AccountCheck::kLocked;
  }
}

}  // namespace

PamUsers::PamUsers(AccountSource& source, std::string service, std::string mail_location,
                   uid_t first_valid_uid)
    : source_(source),
      service_(std::move(service)),
      mail_location_(std::move(mail_location)),
      first_valid_uid_(first_valid_uid),
      dummy_hash_(make_dummy_hash()) {}

SystemCheckResult PamUsers::check_credentials(std::string_view user, std::string_view password,
                                              std::string_view client_address) {
  SystemCheckResult result;
  auto dummy = [&](AccountCheck check) {
    (void)verify_password(dummy_hash_.view(), password);
    result.check = check;
    return result;
  };
  if (!is_valid_system_user_name(user) || password.find('\0') != std::string_view::npos) {
    return dummy(AccountCheck::kUnknownUser);
  }
  const std::string name(user);
  Lookup<SystemAccount> account = source_.find_account(name);
  if (account.status != LookupStatus::kFound) {
    return dummy(account.status == LookupStatus::kNotFound ? AccountCheck::kUnknownUser
                                                           : AccountCheck::kTempFail);
  }
  if (account.value.uid == 0) return dummy(AccountCheck::kRoot);
  if (account.value.uid < first_valid_uid_) return dummy(AccountCheck::kUidTooLow);

  PamConversationData data{user, password};
  const pam_conv conv{&pam_conversation, &data};
  pam_handle_t* handle = nullptr;
  int rc = ::pam_start(service_.c_str(), name.c_str(), &conv, &handle);
  if (rc != PAM_SUCCESS) {
    result.check = AccountCheck::kTempFail;
    return result;
  }
  // The helper's own reading of the client's socket (see
  // CredentialChecker): a worker cannot aim pam_access at another address.
  const std::string rhost(client_address);
  ::pam_set_item(handle, PAM_RHOST, rhost.c_str());
  ::pam_set_item(handle, PAM_FAIL_DELAY, reinterpret_cast<const void*>(&no_fail_delay));
  rc = ::pam_authenticate(handle, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
  if (rc != PAM_SUCCESS) {
    result.check = check_of_auth_error(rc);
  } else {
    rc = ::pam_acct_mgmt(handle, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
    result.check = rc == PAM_SUCCESS ? AccountCheck::kOk : check_of_account_error(rc);
  }
  ::pam_end(handle, rc);
  if (result.check != AccountCheck::kOk) return result;
  // PAM may map the name (pam_unix does not); the account is the one the
  // user database names.
  return logged_in(mail_location_, account.value);
}

}  // namespace pop3d
