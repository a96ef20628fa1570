#include "mailstore/uid_source.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <numeric>

#include "mailstore/courier_uids.hpp"
#include "mailstore/dovecot_uidlist.hpp"
#include "mailstore/maildir_name.hpp"

namespace pop3d {

namespace {

class FileNameUids : public UidSource {
 public:
  Result<UidPlan> plan(const std::vector<std::string_view>&) override { return UidPlan{}; }
};

// A format without uids and no uidlist: the format over base names.
class FormattedNames : public UidSource {
 public:
  explicit FormattedNames(UidlFormat format) : format_(std::move(format)) {}
  Result<UidPlan> plan(const std::vector<std::string_view>& names) override {
    UidPlan p;
    p.uidls.reserve(names.size());
    for (std::string_view n : names) p.uidls.push_back(format_.uidl(UidlFields{0, 0, n, {}}));
    return p;
  }

 private:
  UidlFormat format_;
};

class DovecotUids : public UidSource {
 public:
  DovecotUids(UidlFormat format, std::string dir)
      : format_(std::move(format)), dir_(std::move(dir)) {}

  Result<UidPlan> plan(const std::vector<std::string_view>& names) override {
    auto read = read_dovecot_uidlist(dir_);
    if (!read) return read.error();
    Uidlist list;
    if (read->has_value()) list = std::move(**read);
    auto by_name = list.by_name();
    std::vector<std::string> missing;
    for (std::string_view n : names) {
      if (!by_name.contains(std::string(n))) missing.emplace_back(n);
    }
    if (!missing.empty() || !read->has_value()) {
      // Dovecot's own choice for a new mailbox is the time; it is what a
      // later Dovecot would have picked.
      auto now = assign_dovecot_uids(dir_, missing, static_cast<uint32_t>(std::time(nullptr)),
                                     kUidlistLockWait);
      if (!now) return now.error();
      list = std::move(*now);
      by_name = list.by_name();
    }

    UidPlan p;
    p.uidls.resize(names.size());
    struct Key {
      bool ordered;
      uint32_t pop3_order;
      uint32_t uid;
    };
    std::vector<Key> keys(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      const auto it = by_name.find(std::string(names[i]));
      if (it == by_name.end()) {
        // A name no uidlist line can hold (see assign_dovecot_uids): it
        // keeps its file-name UIDL and comes last.
        p.uidls[i] = maildir_uidl(names[i]);
        keys[i] = Key{false, 0, UINT32_MAX};
        continue;
      }
      const UidlistEntry& e = list.entries[it->second];
      if (auto given = e.presented_uidl()) {
        p.uidls[i] = valid_uidl(*given) ? *given : maildir_uidl(names[i]);
      } else {
        p.uidls[i] = format_.uidl(UidlFields{e.uid, list.uidvalidity, names[i], e.guid});
      }
      keys[i] = Key{e.pop3_order != 0, e.pop3_order, e.uid};
    }
    p.order.resize(names.size());
    std::iota(p.order.begin(), p.order.end(), 0u);
    std::stable_sort(p.order.begin(), p.order.end(), [&](uint32_t a, uint32_t b) {
      const Key& x = keys[a];
      const Key& y = keys[b];
      if (x.ordered != y.ordered) return x.ordered;
      if (x.ordered && x.pop3_order != y.pop3_order) return x.pop3_order < y.pop3_order;
      return x.uid < y.uid;
    });
    return p;
  }

 private:
  static bool valid_uidl(const std::string& u) {
    if (u.empty() || u.size() > kMaxUidlLength) return false;
    return std::all_of(u.begin(), u.end(), [](char c) { return c >= 0x21 && c <= 0x7E; });
  }

  UidlFormat format_;
  std::string dir_;
};

}  // namespace

Result<UidlChoice> UidlChoice::parse(std::string_view setting) {
  UidlChoice c;
  if (setting == "auto") return c;
  auto f = UidlFormat::parse(setting);
  if (!f) return f.error();
  c.format = std::move(*f);
  return c;
}

namespace {

// Anything but "no such file" counts as there: the reader then says what
// is wrong instead of silently changing every UIDL.
bool present(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 || errno != ENOENT;
}

}  // namespace

std::unique_ptr<UidSource> choose_uid_source(const UidlChoice& choice, const std::string& maildir,
                                             const std::string& control_dir) {
  const bool has_uidlist = present(control_dir + "/" + kDovecotUidlistFile);
  if (!choice.format) {
    if (has_uidlist) {
      auto def = UidlFormat::parse(UidlFormat::kDovecotDefault);
      return std::make_unique<DovecotUids>(std::move(*def), control_dir);
    }
    // Courier's pop3d reads only the sizelist; courierimapuiddb alone means
    // Courier served this Maildir over IMAP, and its pop3d would start a
    // sizelist at the first POP3 login, as CourierUids does.
    if (present(maildir + "/" + kCourierSizelistFile) ||
        present(maildir + "/" + kCourierImapUiddbFile))
      return std::make_unique<CourierUids>(maildir);
    return std::make_unique<FileNameUids>();
  }
  if (has_uidlist || choice.format->needs_uids())
    return std::make_unique<DovecotUids>(*choice.format, control_dir);
  return std::make_unique<FormattedNames>(*choice.format);
}

}  // namespace pop3d
