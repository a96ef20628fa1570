// LeasedMailStore: a MailStore whose maildrops are also held by a lease
// (MaildropLeases), for a cluster. It asks for the lease before the store
// takes the maildrop's own lock, so a session on another node is refused
// without touching the shared file system, and checks the lease again
// before the commit at QUIT, so that a session whose lease went to another
// removes nothing. The session code sees a MailStore like any other.
//
// Its maildrop forwards every call of the Maildrop interface: a method
// added there must be forwarded here too.
#pragma once

#include "mailstore/mail_store.hpp"
#include "sharedstate/maildrop_leases.hpp"

namespace pop3d {

class LeasedMailStore : public MailStore {
 public:
  // Both outlive this store and the maildrops it opens.
  LeasedMailStore(MailStore& inner, MaildropLeases& leases) : inner_(inner), leases_(leases) {}

  OpenOutcome open(const UserRecord& user) override;

 private:
  MailStore& inner_;
  MaildropLeases& leases_;
};

}  // namespace pop3d
