// MaildirStore: the MailStore for Maildir (new/, cur/, tmp/). Opening a
// maildrop locks it (flock on <maildir>/pop3d.lock), moves new/ mail to cur/,
// and snapshots cur/ in delivery order. Sizes come from Dovecot's ",W=" field
// or from <maildir>/pop3d.index, so a repeat login reads no message file.
#pragma once

#include "mailstore/mail_store.hpp"

namespace pop3d {

class MaildirStore : public MailStore {
 public:
  OpenOutcome open(const UserRecord& user) override;
};

}  // namespace pop3d
