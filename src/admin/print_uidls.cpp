#include "admin/print_uidls.hpp"

#include <unistd.h>

#include <ostream>

#include "auth/passwd_file_users.hpp"
#include "auth/system_users.hpp"
#include "daemon/privileges.hpp"
#include "daemon/service.hpp"
#include "mailstore/maildir_store.hpp"
#include "mailstore/uid_source.hpp"

namespace pop3d {

namespace {

struct Resolved {
  UserRecord user;
  // Who reads the mail, when run as root: the service account for virtual
  // users (as the workers do), the user itself for system accounts (as its
  // mail agent).
  ServiceAccount reader;
};

// A virtual user from the passwd-file. The file is read before any
// privilege drop, as the master reads it (it may be readable by root only).
Result<Resolved> passwd_file_user(const Settings& s, const std::string& name) {
  PasswdFileUsers users(s.auth.passwd_file, s.auth.mail_location);
  if (Status st = users.initial_load_status(); !st) {
    return Error{"auth.passwd_file: " + st.error().message};
  }
  AuthOutcome found = users.record_of(name);
  if (found.status == AuthStatus::kUnknownUser) return Error{"no such user in " + users.path()};
  if (found.status != AuthStatus::kOk) return Error{found.reason};
  Resolved r;
  r.user = std::move(found.user);
  if (::geteuid() == 0) {  // else it reads as itself, as the daemon would
    Result<ServiceAccount> account = lookup_service_account(s.general.user, s.general.group);
    if (!account) return account.error();
    r.reader = std::move(*account);
  }
  return r;
}

Result<Resolved> system_user(const Settings& s, const std::string& name) {
  NssAccountSource source;
  Result<UserRecord> user = system_user_record(source, s.auth.mail_location,
                                               static_cast<uid_t>(s.auth.first_valid_uid), name);
  if (!user) return user.error();
  Resolved r;
  r.reader = ServiceAccount{user->name, user->uid, user->gid};
  r.user = std::move(*user);
  if (::geteuid() != 0 && ::geteuid() != r.user.uid) {
    return Error{"run it as root or as " + r.user.name + ": the mail is read as that user"};
  }
  return r;
}

}  // namespace

int print_uidls(const Settings& settings, const std::string& name, std::ostream& out,
                std::ostream& err) {
  auto fail = [&](const std::string& why) {
    err << "pop3d: --print-uidls " << name << ": " << why << "\n";
    return 1;
  };
  Result<Resolved> resolved = backend_needs_privsep(settings.auth.backend)
                                  ? system_user(settings, name)
                                  : passwd_file_user(settings, name);
  if (!resolved) return fail(resolved.error().message);
  // Never as root: the Maildir is the user's, and what pop3d would write
  // to it (a new dovecot-uidlist line) must belong to whoever pop3d runs
  // as, not to root.
  if (::geteuid() == 0) {
    if (Status s = drop_privileges(resolved->reader); !s) return fail(s.error().message);
  }
  // userdb_uid and userdb_gid are checked against the identity the mail
  // is read as, so only after the drop.
  AuthOutcome outcome;
  outcome.status = AuthStatus::kOk;
  outcome.user = std::move(resolved->user);
  outcome = apply_userdb_fields(std::move(outcome));
  if (outcome.status != AuthStatus::kOk) return fail(outcome.reason);

  Result<UidlChoice> uidl = UidlChoice::parse(settings.pop3.uidl_format);
  if (!uidl) return fail("pop3.uidl_format: " + uidl.error().message);
  Result<SharedStorage> shared = parse_shared_storage(settings.mailstore.shared_storage);
  if (!shared) return fail("mailstore.shared_storage: " + shared.error().message);
  MaildirStore store(std::move(*uidl), *shared);
  OpenOutcome opened = store.open(outcome.user);
  if (opened.status == OpenStatus::kInUse) {
    return fail("the maildrop is in use by a POP3 session; try again when it ends");
  }
  if (opened.status != OpenStatus::kOk) return fail(opened.reason);
  // The listing is taken; the lock goes before the lines are written, so
  // a slow pipe (| less) does not keep the user's client out.
  std::string lines;
  for (size_t i = 0; i < opened.maildrop->count(); ++i) {
    const MessageInfo& m = opened.maildrop->info(i);
    lines += std::to_string(i + 1) + " " + m.uidl + " " + std::to_string(m.size) + "\n";
  }
  opened.maildrop.reset();
  out << lines << std::flush;
  return out ? 0 : 1;
}

}  // namespace pop3d
