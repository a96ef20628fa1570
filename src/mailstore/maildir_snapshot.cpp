// MaildirMaildrop at login: the snapshot (from pop3d.index when the
// folders have not changed since it was written, else a listing merged
// into it), and the UIDLs and order its UidSource gives.
#include <algorithm>
#include <cerrno>
#include <iterator>
#include <memory>

#include "log/logger.hpp"
#include "mailstore/maildir_folders.hpp"
#include "mailstore/maildir_maildrop.hpp"
#include "mailstore/maildir_name.hpp"

namespace pop3d {

using namespace maildir;

const MessageInfo& MaildirMaildrop::info(size_t index) const {
  // Made on first use: a session that only asks STAT and LIST (size())
  // never allocates or touches ~1 MB of them for 20,000 messages.
  if (infos_.size() != messages_.size()) make_infos();
  MessageInfo& info = infos_[index];
  if (info.uidl.empty()) {  // never empty once made
    const size_t i = at(index);
    info.uidl = uidls_.empty() ? maildir_uidl(base(messages_[i])) : uidls_[i];
  }
  return info;
}

void MaildirMaildrop::set_name(MaildirMessage& m, std::string_view file_name) {
  m.name_offset = static_cast<uint32_t>(names_.size());
  m.name_length = static_cast<uint32_t>(file_name.size());
  m.base_length = static_cast<uint32_t>(maildir_base_name(file_name).size());
  names_.append(file_name);
}

Status MaildirMaildrop::snapshot() {
  // The stamps come before the listing: a change while listing leaves the
  // folders newer than them, and the next login lists again.
  const int64_t started = now_ns();
  struct stat cur_st, new_st;
  if (::fstat(cur_.get(), &cur_st) != 0) return Error::from_errno("fstat cur");
  if (::fstat(new_.get(), &new_st) != 0) return Error::from_errno("fstat new");
  const DirStamps now_stamps{mtime_ns(cur_st), mtime_ns(new_st)};

  MaildirIndex index = MaildirIndex::load(root_.get());
  if (index.state() == MaildirIndex::State::kCorrupt)
    log_warning("maildir " + log_escape(path_) + ": " + kMaildirIndexFile +
                " is damaged; rebuilding it");
  // Per folder: the index stands in for its listing when the stamp it
  // recorded (never 0, see DirStamps) is the folder's mtime now.
  const bool loaded = index.state() == MaildirIndex::State::kLoaded && trust_folder_times_;
  const DirStamps recorded = index.stamps();
  const bool cur_from_index =
      loaded && recorded.cur_ns != 0 && recorded.cur_ns == now_stamps.cur_ns;
  const bool new_from_index =
      loaded && recorded.new_ns != 0 && recorded.new_ns == now_stamps.new_ns;
  if (cur_from_index && new_from_index) {
    // Neither folder changed since the index was written from a listing:
    // the index is the listing.
    from_index(index);
    index_current_ = true;
    vouched_ = now_stamps;
    return {};
  }
  // A folder touched within the settle time may change again in the same
  // mtime tick without its stamp moving: its listing is recorded as fresh
  // (0), and the next login lists it again.
  auto settled = [this, started](int64_t mtime) {
    return trust_folder_times_ && mtime != 0 && mtime <= started - kStampSettleNs ? mtime : 0;
  };
  const DirStamps listed{cur_from_index ? now_stamps.cur_ns : settled(now_stamps.cur_ns),
                         new_from_index ? now_stamps.new_ns : settled(now_stamps.new_ns)};
  return from_listing(index, cur_from_index, new_from_index, listed);
}

void MaildirMaildrop::from_index(MaildirIndex& index) {
  const auto& records = index.records();
  std::unique_ptr<std::string> text = index.take_text();
  messages_.reserve(records.size());
  for (const IndexRecord& r : records) {
    MaildirMessage m;
    m.name_offset = static_cast<uint32_t>(r.file_name.data() - text->data());
    m.name_length = static_cast<uint32_t>(r.file_name.size());
    m.base_length = r.base_length;
    m.in_new = r.in_new;
    m.entry = r.entry;
    messages_.push_back(m);
  }
  names_ = std::move(*text);
}

Status MaildirMaildrop::from_listing(const MaildirIndex& index, bool cur_from_index,
                                     bool new_from_index, DirStamps listed) {
  std::vector<ListedName> listing;
  bool incomplete = false;
  // A folder the index stands for is "listed" from its records: they are
  // exactly what it holds (see DirStamps), and go through the same merge.
  auto take_from_index = [&](bool in_new) {
    for (const IndexRecord& r : index.records()) {
      if (r.in_new != in_new) continue;
      listing.push_back(ListedName{static_cast<uint32_t>(names_.size()),
                                   static_cast<uint32_t>(r.file_name.size()), in_new});
      names_.append(r.file_name);
    }
  };
  if (cur_from_index) {
    take_from_index(false);
  } else if (Status s = list_files(cur_.get(), log_escape(path_) + "/cur", kMaxMaildropMessages,
                                   false, false, names_, listing, incomplete);
             !s) {
    return s;
  }
  if (new_from_index) {
    take_from_index(true);
  } else if (Status s = list_files(new_.get(), log_escape(path_) + "/new", kMaxMaildropMessages,
                                   false, true, names_, listing, incomplete);
             !s) {
    return s;
  }

  // Names the index knows take its slot (and its order and size); the rest
  // are measured and merged in.
  const auto& records = index.records();
  std::vector<MaildirMessage> known(records.size());
  std::vector<bool> have(records.size(), false);
  std::vector<MaildirMessage> fresh;
  auto ignore = [this](std::string_view n) {
    log_warning("maildir " + log_escape(path_) + ": ignoring duplicate " + log_escape(n));
  };
  for (const ListedName& l : listing) {
    const std::string_view file_name = std::string_view(names_).substr(l.offset, l.length);
    MaildirMessage m;
    m.name_offset = l.offset;
    m.name_length = l.length;
    m.base_length = static_cast<uint32_t>(maildir_base_name(file_name).size());
    m.in_new = l.in_new;
    if (m.base_length == 0) {
      log_warning("maildir " + log_escape(path_) + ": skipping nameless file " +
                  log_escape(file_name));
      incomplete = true;
      continue;
    }
    if (!indexable_name(file_name)) incomplete = true;  // the index cannot stand for it
    const size_t pos = index.position(base(m));
    if (pos == MaildirIndex::npos) {
      m.delivered = maildir_delivery_time(base(m));
      fresh.push_back(m);
      continue;
    }
    m.entry = records[pos].entry;
    if (have[pos]) {
      // One base name, one message: a copy under another name would give
      // two messages the same UIDL. cur/ wins (a move never clobbers it).
      MaildirMessage& kept = known[pos];
      const bool replace =
          (kept.in_new && !m.in_new) || (kept.in_new == m.in_new && file_name < name(kept));
      ignore(replace ? name(kept) : file_name);
      if (replace) kept = m;
      continue;
    }
    have[pos] = true;
    m.delivered = maildir_delivery_time(base(m));
    known[pos] = m;
  }

  // New names: delivery order, one message per base name (cur/ first).
  DeliveryOrder order{&names_};
  std::sort(fresh.begin(), fresh.end(), [&](const MaildirMessage& a, const MaildirMessage& b) {
    if (order(a, b)) return true;
    if (order(b, a)) return false;
    if (a.in_new != b.in_new) return !a.in_new;
    return name(a) < name(b);
  });
  auto dup = std::unique(fresh.begin(), fresh.end(),
                         [&](const MaildirMessage& a, const MaildirMessage& b) {
                           if (base(a) != base(b)) return false;
                           ignore(name(b));
                           return true;
                         });
  fresh.erase(dup, fresh.end());

  std::vector<char> buf;
  for (auto& m : fresh) {
    if (auto w = maildir_wire_size_field(base(m))) {
      // Exact, and free; whether it is plain-sendable stays unknown.
      m.entry = IndexEntry{*w, false};
      continue;
    }
    if (buf.empty()) buf.resize(kSizeReadChunk);
    auto measured = measure_message(dir_of(m), c_name(m).c_str(), buf);
    if (!measured) {
      // Gone since the listing, or unreadable: not part of this maildrop.
      if (measured.error().sys_errno != ENOENT) {
        log_warning("maildir " + log_escape(path_) + ": skipping " + log_escape(name(m)) + ": " +
                    measured.error().message);
        incomplete = true;  // still there: try again next login
      }
      m.broken = true;
      continue;
    }
    m.entry = *measured;
  }
  std::erase_if(fresh, [](const MaildirMessage& m) { return m.broken; });

  std::vector<MaildirMessage> kept;
  kept.reserve(records.size());
  for (size_t i = 0; i < known.size(); ++i)
    if (have[i]) kept.push_back(known[i]);
  messages_.reserve(kept.size() + fresh.size());
  std::merge(kept.begin(), kept.end(), fresh.begin(), fresh.end(), std::back_inserter(messages_),
             order);

  // The index is rewritten when it no longer says what the folders hold, or
  // when this listing can stand in for the next one of a folder and the
  // index could not. A stamp the index holds that no longer matches its
  // folder is left: it never matches again, so it costs no write. The write
  // waits for the end of the session (commit, or the destructor), which
  // writes the index anyway when the session changed anything: one write
  // and flush a session, and none before the client's first answer.
  const DirStamps stamps = incomplete ? DirStamps{} : listed;
  const DirStamps had = index.stamps();
  const bool better = (stamps.cur_ns != 0 && stamps.cur_ns != had.cur_ns) ||
                      (stamps.new_ns != 0 && stamps.new_ns != had.new_ns);
  index_current_ = index.state() != MaildirIndex::State::kCorrupt && same_as(index) && !better;
  vouched_ = stamps;
  return {};
}

bool MaildirMaildrop::same_as(const MaildirIndex& index) const {
  const auto& records = index.records();
  if (records.size() != messages_.size()) return false;
  for (size_t i = 0; i < records.size(); ++i) {
    const MaildirMessage& m = messages_[i];
    const IndexRecord& r = records[i];
    if (r.in_new != m.in_new || r.entry.size != m.entry.size ||
        r.entry.plain_sendable != m.entry.plain_sendable || r.file_name != name(m))
      return false;
  }
  return true;
}

void MaildirMaildrop::make_infos() const {
  infos_.resize(messages_.size());
  for (size_t i = 0; i < messages_.size(); ++i) {
    infos_[i].size = messages_[at(i)].entry.size;
    infos_[i].plain_sendable = messages_[at(i)].entry.plain_sendable;
  }
}

Status MaildirMaildrop::take_uids(UidSource& source) {
  std::vector<std::string_view> bases;
  bases.reserve(messages_.size());
  for (const MaildirMessage& m : messages_) bases.push_back(base(m));
  auto plan = source.plan(bases);
  if (!plan) return plan.error();
  if ((!plan->order.empty() && plan->order.size() != messages_.size()) ||
      (!plan->uidls.empty() && plan->uidls.size() != messages_.size())) {
    return Error{"UID source answered for another number of messages", 0};
  }
  order_ = std::move(plan->order);
  uidls_ = std::move(plan->uidls);
  infos_.clear();
  return {};
}

}  // namespace pop3d
