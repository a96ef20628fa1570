// MaildirStore: the MailStore for Maildir (new/, cur/, tmp/). Opening a
// maildrop locks it (flock on <maildir>/pop3d.lock) and snapshots cur/ and
// new/ in delivery order, moving nothing; at commit (QUIT) the snapshot's
// messages still in new/ move to cur/. Sizes come from Dovecot's ",W=" field
// or from <maildir>/pop3d.index, so a repeat login reads no message file,
// and when neither folder changed since the index was written, lists none.
#pragma once

#include "mailstore/mail_store.hpp"

namespace pop3d {

class MaildirStore : public MailStore {
 public:
  OpenOutcome open(const UserRecord& user) override;
};

}  // namespace pop3d
