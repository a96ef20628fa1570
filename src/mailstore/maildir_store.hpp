// MaildirStore: the MailStore for Maildir (new/, cur/, tmp/). Opening a
// maildrop locks it (flock on <maildir>/pop3d.lock) and snapshots cur/ and
// new/ in delivery order, moving nothing; at commit (QUIT) the snapshot's
// messages still in new/ move to cur/. Sizes come from <maildir>/pop3d.index,
// and for names it does not know yet from Dovecot's ",W=" field or one read
// of the file, so a repeat login reads no message file, and when neither
// folder changed since the index was written, lists none. A size that RETR
// or TOP finds wrong (a lying ",W=", a file rewritten in place) is corrected
// in the index, which from then on is believed over the name.
//
// UIDLs and the order the session presents come from a UidSource
// (uid_source.hpp): the file names, or Dovecot's dovecot-uidlist, found in
// the Maildir or in the CONTROL= directory the user's mail location names.
#pragma once

#include "mailstore/mail_store.hpp"
#include "mailstore/shared_storage.hpp"
#include "mailstore/uid_source.hpp"

namespace pop3d {

class MaildirStore : public MailStore {
 public:
  // The defaults are pop3.uidl_format's and mailstore.shared_storage's,
  // "auto" both.
  explicit MaildirStore(UidlChoice uidl = {}, SharedStorage shared = SharedStorage::kAuto)
      : uidl_(std::move(uidl)), shared_(shared) {}
  OpenOutcome open(const UserRecord& user) override;

 private:
  UidlChoice uidl_;
  SharedStorage shared_;
};

}  // namespace pop3d
