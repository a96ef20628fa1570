// The mail agent: one process per POP3 session of a system user, forked by
// the privileged helper after a successful check, that becomes that user
// for good and does the file work with the MaildirStore: it opens (locks)
// the maildrop, sends the listing, opens messages and passes their
// descriptors back, and removes the deleted ones at QUIT. The worker keeps
// the client connection and TLS; it never touches the user's files itself.
#pragma once

#include <chrono>
#include <functional>

#include "auth/user_db.hpp"
#include "config/settings.hpp"
#include "mailstore/mail_store.hpp"
#include "mailstore/shared_storage.hpp"
#include "mailstore/uid_source.hpp"
#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

// Forks an agent for `user`; returns the worker's end of its socket. The
// agent runs `forget` first (the helper wipes what of other users it holds),
// reopens the log (`log_target`, "" keeps the current one) while still
// root, then drops to the user. It exits after `idle_timeout` without a
// request (pop3.idle_timeout: the session would have ended by then).
struct AgentOptions {
  std::string log_target;
  LogLevel log_level = LogLevel::kInfo;
  std::chrono::seconds idle_timeout{600};
  UidlChoice uidl;                                      // pop3.uidl_format, as loaded
  SharedStorage shared_storage = SharedStorage::kAuto;  // mailstore.shared_storage
  bool verbose_proctitle = true;                        // the user in the title
};
Result<UniqueFd> spawn_mail_agent(const UserRecord& user, const AgentOptions& options,
                                  const std::function<void()>& forget = {});

// STYLE 5's order: chdir("/"), setgroups([gid]), setgid, setuid for good;
// refuses uid 0 and proves root cannot be regained; then tight limits (no
// core files, no new processes, no new privileges).
Status become_user(const UserRecord& user);

// The agent's loop on `sock`, once it runs as the user: opens the
// maildrop, sends the listing (agent_send_listing), then answers
// open-message, correct-size and commit until the worker closes the
// socket, stays silent for `idle_timeout`, or does not take an answer
// within it. Returns the exit code.
int serve_mail_agent(int sock, MailStore& store, const UserRecord& user,
                     std::chrono::seconds idle_timeout);

}  // namespace pop3d
