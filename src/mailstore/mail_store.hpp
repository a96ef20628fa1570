// MailStore / Maildrop: a user's mail as POP3 sees it. A Maildrop is a
// snapshot taken at login, locked against other POP3 sessions; nothing in
// it changes on disk until commit() at QUIT.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/user_db.hpp"
#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

struct MessageInfo {
  // Octets of the message as RETR sends it: every bare LF counted as CRLF,
  // plus 2 when the last line has no newline (RETR adds CRLF there); not
  // counting dot-stuffing or the final ".".
  uint64_t size = 0;
  std::string uidl;  // 1-70 chars in 0x21-0x7E, stable across sessions
  // The file is already what RETR sends (CRLF lines, no line starting with
  // '.', ends with CRLF), so it can go out unchanged (sendfile). False when
  // unknown.
  bool plain_sendable = false;
};

// What reading a whole message file showed, in MessageInfo's terms.
struct FileMeasure {
  uint64_t size = 0;  // as MessageInfo::size
  bool plain_sendable = false;
};

struct CommitStats {
  unsigned deleted = 0;
  uint64_t deleted_bytes = 0;
  unsigned already_gone = 0;  // removed by someone else meanwhile
};

class Maildrop {
 public:
  virtual ~Maildrop() = default;  // releases the lock; deletes nothing

  virtual size_t count() const = 0;
  // `index` is 0-based; the caller checks the range.
  virtual const MessageInfo& info(size_t index) const = 0;
  // info(index).size; an implementation that makes UIDLs on demand answers
  // it without making one (STAT and LIST of a big maildrop need no UIDL).
  virtual uint64_t size(size_t index) const { return info(index).size; }
  // The message file, opened read-only, positioned at 0. An Error when the
  // file vanished or cannot be read; the session goes on.
  virtual Result<UniqueFd> open_message(size_t index) = 0;
  // RETR or TOP found that the file of message `index` is not what info()
  // says (a wrong ",W=" in its name, or a file rewritten in place).
  // `measured` is what the file turned out to be when it was read to its
  // end; empty when only the difference is known. This session's listing
  // stays as it is (the client has seen it); what the next session lists
  // is corrected. The default forgets it: a store without a cache of sizes
  // measures afresh anyway.
  virtual void correct_size(size_t /*index*/, std::optional<FileMeasure> /*measured*/) {}
  // Removes the messages whose flag is set (deleted.size() == count()) and
  // fsyncs the directory. Called once, at QUIT in TRANSACTION state.
  virtual Result<CommitStats> commit(const std::vector<bool>& deleted) = 0;
  // The same, and the messages flagged in `retrieved` (empty, or count()
  // flags) that stay are marked read for other readers of the mail (IMAP's
  // \Seen), as Dovecot's POP3 marks the messages a session RETRieved. A
  // store that keeps no read state has nothing to mark: the default.
  virtual Result<CommitStats> commit(const std::vector<bool>& deleted,
                                     const std::vector<bool>& /*retrieved*/) {
    return commit(deleted);
  }
};

enum class OpenStatus {
  kOk,
  kInUse,     // another session holds the maildrop: "-ERR [IN-USE]"
  kTempFail,  // "-ERR [SYS/TEMP]"
  kPermFail,  // "-ERR [SYS/PERM]"
};

struct OpenOutcome {
  OpenStatus status = OpenStatus::kTempFail;
  std::unique_ptr<Maildrop> maildrop;  // set when status == kOk
  std::string reason;                  // for the log
};

class MailStore {
 public:
  virtual ~MailStore() = default;
  virtual OpenOutcome open(const UserRecord& user) = 0;
};

}  // namespace pop3d
