#include "mailstore/leased_mail_store.hpp"

#include <algorithm>

namespace pop3d {

namespace {

// The inner maildrop, and the lease for as long as it lives.
class LeasedMaildrop : public Maildrop {
 public:
  LeasedMaildrop(std::unique_ptr<Maildrop> inner, MaildropLeases& leases)
      : inner_(std::move(inner)), leases_(leases) {}
  // The maildrop's own lock first, then the lease: a newcomer that finds
  // the lease gone finds the lock gone too.
  ~LeasedMaildrop() override {
    inner_.reset();
    leases_.release();
  }

  size_t count() const override { return inner_->count(); }
  const MessageInfo& info(size_t index) const override { return inner_->info(index); }
  uint64_t size(size_t index) const override { return inner_->size(index); }
  Result<UniqueFd> open_message(size_t index) override { return inner_->open_message(index); }
  void correct_size(size_t index, std::optional<FileMeasure> measured) override {
    inner_->correct_size(index, measured);
  }
  Result<CommitStats> commit(const std::vector<bool>& deleted) override {
    if (Status s = check_lease(deleted, {}); !s) return s.error();
    return inner_->commit(deleted);
  }
  Result<CommitStats> commit(const std::vector<bool>& deleted,
                             const std::vector<bool>& retrieved) override {
    if (Status s = check_lease(deleted, retrieved); !s) return s.error();
    return inner_->commit(deleted, retrieved);
  }

 private:
  // Asked only when the commit may remove something (a deletion, or a
  // retrieved message that EXPIRE 0 removes): a session that only read its
  // mail costs Redis nothing at QUIT.
  Status check_lease(const std::vector<bool>& deleted, const std::vector<bool>& retrieved) {
    const auto any = [](const std::vector<bool>& v) {
      return std::find(v.begin(), v.end(), true) != v.end();
    };
    if ((!any(deleted) && !any(retrieved)) || leases_.still_ours()) return {};
    return Error{"the maildrop's lease went to another session; nothing removed"};
  }

  std::unique_ptr<Maildrop> inner_;
  MaildropLeases& leases_;
};

}  // namespace

OpenOutcome LeasedMailStore::open(const UserRecord& user) {
  std::string holder;
  // By the user's name, which is the same on every node whatever the path
  // of its mount.
  if (leases_.acquire(user.name.empty() ? user.maildir : user.name, holder) ==
      LeaseVerdict::kBusy) {
    OpenOutcome busy;
    busy.status = OpenStatus::kInUse;
    busy.reason = "maildrop lease held by " + holder;
    return busy;
  }
  OpenOutcome opened = inner_.open(user);
  if (opened.status != OpenStatus::kOk || !opened.maildrop) {
    leases_.release();
    return opened;
  }
  opened.maildrop = std::make_unique<LeasedMaildrop>(std::move(opened.maildrop), leases_);
  return opened;
}

}  // namespace pop3d
