#include "daemon/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

#include "util/child_exit.hpp"

namespace pop3d {

namespace {
// getpwnam_r/getgrnam_r buffers: large enough for big NSS groups.
constexpr size_t kNssBufferSize = 1 << 16;
}  // namespace

Result<ServiceAccount> lookup_service_account(const std::string& user, const std::string& group) {
  std::vector<char> buf(kNssBufferSize);
  passwd pw{};
  passwd* found_user = nullptr;
  ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found_user);
  if (found_user == nullptr) {
    return Error{"general.user: no such user '" + user +
                 "' (create it, e.g. with scripts/create-user, or set general.user)"};
  }
  ServiceAccount account{user, pw.pw_uid, pw.pw_gid};
  struct group gr {};
  struct group* found_group = nullptr;
  ::getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &found_group);
  if (found_group == nullptr) return Error{"general.group: no such group '" + group + "'"};
  account.gid = gr.gr_gid;
  if (account.uid == 0) return Error{"general.user must not be root"};
  return account;
}

Status drop_privileges(const ServiceAccount& account) {
  if (account.uid == 0) return Error{"refusing to run the service as root"};
  if (::setgroups(1, &account.gid) < 0) return Error::from_errno("setgroups");
  if (::setgid(account.gid) < 0) return Error::from_errno("setgid");
  if (::setuid(account.uid) < 0) return Error::from_errno("setuid");
  if (::setuid(0) == 0 || ::geteuid() == 0) {
    return Error{"privileges could be regained after setuid; refusing to go on"};
  }
  return {};
}

Status confine_process() {
  const rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) < 0) return Error::from_errno("setrlimit core");
  // Counted per real uid, but checked only at this process's own fork: the
  // master, which forks workers as the same user, keeps its own limit.
  // A sanitized build lowers only the soft limit, so that LeakSanitizer can
  // start its tracer when the child exits (see exit_forked_child).
  rlimit processes = none;
  if (kBuiltWithLeakChecks && ::getrlimit(RLIMIT_NPROC, &processes) == 0) processes.rlim_cur = 0;
  if (::setrlimit(RLIMIT_NPROC, &processes) < 0) return Error::from_errno("setrlimit nproc");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return Error::from_errno("no_new_privs");
  return {};
}

}  // namespace pop3d
