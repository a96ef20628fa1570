// MaildirMaildrop: one session's snapshot of a Maildir, behind the
// Maildrop interface. Private to src/mailstore: MaildirStore::open makes
// it; its work is split by job across maildir_snapshot.cpp (the listing,
// pop3d.index, the UIDLs), maildir_commit.cpp (QUIT) and maildir_store.cpp
// (opening a message, size corrections).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mailstore/mail_store.hpp"
#include "mailstore/maildir_index.hpp"
#include "mailstore/maildrop_lock.hpp"
#include "mailstore/uid_source.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

// One message of the snapshot. Its file name lives in the maildrop's name
// arena; 40 bytes a message, no allocation of its own.
struct MaildirMessage {
  uint32_t name_offset = 0;
  uint32_t name_length = 0;
  uint32_t base_length = 0;
  bool in_new = false;     // still in new/; moved to cur/ at commit
  bool broken = false;     // unreadable or gone at login: not in the snapshot
  bool removed = false;    // unlinked (or found gone) at commit
  uint64_t delivered = 0;  // the timestamp at the start of the name
  IndexEntry entry;
};

class MaildirMaildrop : public Maildrop {
 public:
  MaildirMaildrop(std::string path, MaildropLock lock, UniqueFd root, UniqueFd cur, UniqueFd fresh)
      : lock_(std::move(lock)),
        path_(std::move(path)),
        root_(std::move(root)),
        cur_(std::move(cur)),
        new_(std::move(fresh)) {}

  // On shared storage (mailstore/shared_storage.hpp) another node's change
  // may not show in a folder's mtime here yet: then the index never stands
  // in for a listing, and its rename is fsynced. Before snapshot().
  void distrust_folder_times() { trust_folder_times_ = false; }

  // Takes the snapshot the session works on. Moves nothing: new/ mail goes
  // to cur/ at commit.
  Status snapshot();

  // Puts the snapshot in the source's order with its UIDLs.
  Status take_uids(UidSource& source);

  size_t count() const override { return messages_.size(); }
  const MessageInfo& info(size_t index) const override;
  uint64_t size(size_t index) const override { return messages_[at(index)].entry.size; }
  ~MaildirMaildrop() override;

  Result<UniqueFd> open_message(size_t index) override;
  void correct_size(size_t index, std::optional<FileMeasure> measured) override;
  Result<CommitStats> commit(const std::vector<bool>& deleted) override;
  Result<CommitStats> commit(const std::vector<bool>& deleted,
                             const std::vector<bool>& retrieved) override;

 private:
  // The snapshot position of the session's message `index`. messages_
  // stays in delivery order, which pop3d.index relies on.
  size_t at(size_t index) const { return order_.empty() ? index : order_[index]; }
  int dir_of(const MaildirMessage& m) const { return m.in_new ? new_.get() : cur_.get(); }
  std::string_view name(const MaildirMessage& m) const {
    return std::string_view(names_).substr(m.name_offset, m.name_length);
  }
  std::string_view base(const MaildirMessage& m) const {
    return std::string_view(names_).substr(m.name_offset, m.base_length);
  }
  // A NUL-terminated copy of the name for the *at() calls (names in the
  // arena are not terminated).
  std::string c_name(const MaildirMessage& m) const { return std::string(name(m)); }
  void set_name(MaildirMessage& m, std::string_view file_name);
  void from_index(MaildirIndex& index);
  // Lists the folders the index does not stand for (the others' messages
  // come from its records) and merges the result into the index; `listed`
  // holds the stamps this listing may be recorded with (see DirStamps).
  Status from_listing(const MaildirIndex& index, bool cur_from_index, bool new_from_index,
                      DirStamps listed);
  void make_infos() const;
  // What pop3d.index records for messages_[i]: its entry, or what a RETR
  // or TOP found the file to be.
  const IndexEntry& entry_to_record(size_t i) const;
  bool write_index(DirStamps stamps);
  // After the commit's changes, per folder: the stamp under which the
  // snapshot now says what the folder holds (unchanged since a vouched
  // listing, or listed now once its mtime is safely in the past), or 0:
  // fresh, the next login lists it. Never waits.
  DirStamps stamps_after_commit();
  int64_t stamp_after_commit(bool in_new, int64_t vouched, int64_t now);
  bool same_as(const MaildirIndex& index) const;
  // The current cur/ names by base name, for messages another client
  // renamed (flag change) since the snapshot.
  std::unordered_map<std::string, std::string> cur_names_by_base();

  MaildropLock lock_;  // declared first: released last
  std::string path_;   // for log lines
  UniqueFd root_, cur_, new_;
  std::string names_;  // every message's file name, back to back
  std::vector<MaildirMessage> messages_;
  // UIDLs are made on first use (UIDL, or a client that never asks pays
  // nothing for them).
  mutable std::vector<MessageInfo> infos_;  // by session position
  std::vector<uint32_t> order_;             // UidPlan::order
  std::vector<std::string> uidls_;          // UidPlan::uidls
  bool committed_ = false;
  // pop3d.index holds this snapshot's records and vouched_ (a folder's stamp
  // there may also be stale, which never matches its mtime again): a
  // session that changes neither has nothing to write. When it does not,
  // the session's end writes it.
  bool index_current_ = false;
  // Per folder, the stamp under which the snapshot stands for a listing of
  // it (see DirStamps), or 0.
  DirStamps vouched_;
  // False on shared storage: see distrust_folder_times().
  bool trust_folder_times_ = true;
  // Sizes found wrong while sending, by message index: the snapshot keeps
  // what the session listed, pop3d.index gets these. Rare, so a map and
  // not a field in every message.
  std::unordered_map<size_t, IndexEntry> corrected_;
};

// Delivery order, so message numbers follow arrival and stay stable; the
// base name breaks ties. The index keeps this order, so a listing can merge
// into it.
struct DeliveryOrder {
  const std::string* names;
  bool operator()(const MaildirMessage& a, const MaildirMessage& b) const {
    if (a.delivered != b.delivered) return a.delivered < b.delivered;
    const std::string_view all(*names);
    return all.substr(a.name_offset, a.base_length) < all.substr(b.name_offset, b.base_length);
  }
};

}  // namespace pop3d
