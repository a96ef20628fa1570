// UidSource: where a Maildir maildrop's UIDLs and POP3 order come from, so
// the store and the session need not know. Two kinds:
//   - file-name UIDLs (pop3d's own, what qmail-pop3d and uid-less Courier
//     give): delivery order, UIDL from the base name;
//   - dovecot-uidlist: Dovecot's uids with pop3.uidl_format, a P field
//     verbatim, O-ordered messages first, then uid order (as Dovecot lists);
//     messages the file does not know get the next uids, appended under
//     Dovecot's lock, so Dovecot later presents what pop3d presented;
//   - courierpop3dsizelist (courier_uids.hpp): Courier's "UID<n>-<v>" in
//     Courier's order, new messages recorded as Courier records them.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailstore/uidl_format.hpp"
#include "util/result.hpp"

namespace pop3d {

// The snapshot in the source's terms.
struct UidPlan {
  std::vector<uint32_t> order;     // session position -> snapshot position; empty: as is
  std::vector<std::string> uidls;  // by snapshot position; empty: file-name UIDLs
};

class UidSource {
 public:
  virtual ~UidSource() = default;
  // `base_names` in snapshot (delivery) order.
  virtual Result<UidPlan> plan(const std::vector<std::string_view>& base_names) = 0;
};

// pop3.uidl_format as loaded: "auto", or a format parsed at load.
struct UidlChoice {
  std::optional<UidlFormat> format;  // empty: "auto"

  static Result<UidlChoice> parse(std::string_view setting);
};

// How long a login waits for Dovecot to finish its own uidlist write; it
// holds the lock for one file write, so this is only reached when
// something is wrong, and the client is told to try again later.
inline constexpr std::chrono::milliseconds kUidlistLockWait{5000};

// The source for one maildrop in `maildir` whose Dovecot control files
// live in `control_dir` (the same directory unless CONTROL= says otherwise):
//   - "auto": the uidlist when there is one (format %08Xu%08Xv); else
//     Courier's UIDLs when the Maildir has courierpop3dsizelist or
//     courierimapuiddb; else file-name UIDLs;
//   - a format: the uidlist when there is one; when there is none, a new
//     one if the format needs uids (%u, %v), else the format over the base
//     names.
std::unique_ptr<UidSource> choose_uid_source(const UidlChoice& choice, const std::string& maildir,
                                             const std::string& control_dir);

}  // namespace pop3d
