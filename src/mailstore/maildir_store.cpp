#include "mailstore/maildir_store.hpp"

namespace pop3d {

OpenOutcome MaildirStore::open(const UserRecord& user) {
  OpenOutcome out;
  out.status = OpenStatus::kTempFail;
  out.reason = "maildir store not implemented yet";
  return out;
}

}  // namespace pop3d
