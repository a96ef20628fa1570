// The TRANSACTION state: the maildrop commands of RFC 1939 5, and QUIT,
// which enters UPDATE and commits the deletions. Nothing here changes the
// maildrop on disk before that commit; a session that ends any other way
// leaves it as it was.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <limits>
#include <optional>

#include "log/logger.hpp"
#include "pop3/limits.hpp"
#include "pop3/log_fields.hpp"
#include "pop3/pop3_session.hpp"

namespace pop3d {

Result<size_t> Pop3Session::message_index(std::string_view arg) const {
  const std::optional<uint64_t> n = parse_number(arg, pop3_limits::kMaxNumber);
  if (!n) return Error{"Invalid message number."};
  if (*n == 0 || *n > deleted_.size()) {
    return Error{"There's no message " + std::to_string(*n) + "."};
  }
  if (deleted_[*n - 1]) return Error{"Message " + std::to_string(*n) + " is deleted."};
  return static_cast<size_t>(*n - 1);
}

Reply Pop3Session::cmd_stat(const Command&) {
  size_t count = 0;
  uint64_t octets = 0;
  for (size_t i = 0; i < deleted_.size(); ++i) {
    if (deleted_[i]) continue;
    ++count;
    octets += maildrop_->size(i);
  }
  // RFC 1939 5: exactly "+OK nn mm", clients parse it.
  return Reply::good(std::to_string(count) + " " + std::to_string(octets));
}

Reply Pop3Session::cmd_list(const Command& cmd) {
  if (!cmd.args.empty()) {
    Result<size_t> index = message_index(cmd.args[0]);
    if (!index) return Reply::bad(index.error().message);
    return Reply::good(std::to_string(*index + 1) + " " + std::to_string(maildrop_->size(*index)));
  }
  size_t count = 0;
  uint64_t octets = 0;
  for (size_t i = 0; i < deleted_.size(); ++i) {
    if (deleted_[i]) continue;
    ++count;
    octets += maildrop_->size(i);
  }
  Reply r =
      Reply::good(std::to_string(count) + " messages (" + std::to_string(octets) + " octets)");
  r.listing = Reply::Listing::kSizes;
  return r;
}

Reply Pop3Session::cmd_uidl(const Command& cmd) {
  if (!cmd.args.empty()) {
    Result<size_t> index = message_index(cmd.args[0]);
    if (!index) return Reply::bad(index.error().message);
    return Reply::good(std::to_string(*index + 1) + " " + maildrop_->info(*index).uidl);
  }
  Reply r = Reply::good("");
  r.listing = Reply::Listing::kUidls;
  return r;
}

bool Pop3Session::write_listing(Reply::Listing listing) {
  // "<n> <size>\r\n" is formatted in place with to_chars: a LIST of 20,000
  // messages costs no allocation per line.
  char line[2 * 20 + 3];
  for (size_t i = 0; i < deleted_.size(); ++i) {
    if (deleted_[i]) continue;
    char* end = std::to_chars(line, line + 20, i + 1).ptr;
    *end++ = ' ';
    if (listing == Reply::Listing::kSizes) {
      end = std::to_chars(end, end + 20, maildrop_->size(i)).ptr;
      *end++ = '\r';
      *end++ = '\n';
      writer_.buffer().append(line, static_cast<size_t>(end - line));
    } else {
      writer_.buffer().append(line, static_cast<size_t>(end - line));
      writer_.line(maildrop_->info(i).uidl);
    }
    if (!writer_.flush_if_full()) return end_for_write_failure();
  }
  writer_.end_multiline();
  return true;
}

Reply Pop3Session::open_stream(size_t index, MessageEncoder encoder, bool counts_as_retrieval,
                               std::string status_text) {
  Result<UniqueFd> fd = maildrop_->open_message(index);
  if (!fd) {
    // Gone since login (deleted by another client, or unreadable): this
    // message fails, the session and the other messages go on.
    log_warning("cannot open message " + std::to_string(index + 1) + ": " +
                log_user(summary_.user) + ", reason=" + log_escape(fd.error().message));
    return Reply::fail("[SYS/TEMP] Message " + std::to_string(index + 1) +
                       " is no longer available.");
  }
  Reply r = Reply::good(std::move(status_text));
  r.stream = Reply::Stream{std::move(*fd), index, encoder, counts_as_retrieval};
  return r;
}

Reply Pop3Session::cmd_retr(const Command& cmd) {
  Result<size_t> index = message_index(cmd.args[0]);
  if (!index) return Reply::bad(index.error().message);
  const std::string text = std::to_string(maildrop_->size(*index)) + " octets";
  return open_stream(*index, MessageEncoder(), true, text);
}

Reply Pop3Session::cmd_top(const Command& cmd) {
  Result<size_t> index = message_index(cmd.args[0]);
  if (!index) return Reply::bad(index.error().message);
  const std::optional<uint64_t> lines =
      parse_number(cmd.args[1], std::numeric_limits<uint64_t>::max());
  if (!lines) return Reply::bad("Invalid number of lines.");
  return open_stream(*index, MessageEncoder::for_top(*lines), false, "");
}

void Pop3Session::set_cut_short(size_t index, bool cut) {
  if (cut_short_.empty()) {
    if (!cut) return;
    cut_short_.assign(deleted_.size(), false);
  }
  cut_short_[index] = cut;
}

bool Pop3Session::encode_rest(Reply::Stream& stream, bool& whole) {
  whole = false;
  if (!file_chunk_) file_chunk_ = std::make_unique_for_overwrite<char[]>(pop3_limits::kRetrChunk);
  // To the file's end, not to the listed size: the listing comes from the
  // index or the name's ",W=", and either may be wrong; stopping at it
  // would end a longer file early with a proper "." after it.
  while (!stream.encoder.done()) {
    const ssize_t n = ::read(stream.fd.get(), file_chunk_.get(), pop3_limits::kRetrChunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // The "+OK" is out already; ending the reply with "." would hand
      // the client a truncated message as if it were whole.
      log_error(Error::from_errno("read message " + std::to_string(stream.index + 1)).message +
                ": " + log_user(summary_.user));
      writer_.flush();
      summary_.end = "error: message read failed";
      return false;
    }
    if (n == 0) {
      whole = true;
      break;
    }
    stream.encoder.encode(std::string_view(file_chunk_.get(), static_cast<size_t>(n)),
                          writer_.buffer());
    if (!writer_.flush_if_full()) return end_for_write_failure();
  }
  return true;
}

bool Pop3Session::stream_message(Reply::Stream& stream) {
  const size_t index = stream.index;
  const MessageInfo& info = maildrop_->info(index);
  const uint64_t listed = info.size;
  const bool plain = info.plain_sendable;
  const bool retr = stream.counts_as_retrieval;
  // Until the message is out whole it counts as cut short, so every early
  // way out (connection gone, read error) keeps it at QUIT.
  if (retr) set_cut_short(index, true);

  // A file that is already its own wire form goes from the page cache to
  // the socket; small ones are cheaper gathered with the "+OK" into one
  // write. sendfile sends bytes nobody looks at, so only a file of exactly
  // the listed length goes that way: one that changed since it was
  // measured is read and encoded, which frames it correctly whatever it
  // now holds and measures it on the way.
  uint64_t sent_direct = 0;
  struct stat st;
  if (retr && plain && listed >= pop3_limits::kSendfileMinBytes && !writer_.failed() &&
      ::fstat(stream.fd.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) == listed) {
    if (!writer_.flush()) return end_for_write_failure();
    const std::optional<IoResult> direct = transport_->send_file(
        stream.fd.get(), 0, static_cast<size_t>(listed), ctx_.settings.pop3.idle_timeout);
    if (direct) {
      if (direct->status != IoStatus::kOk) {
        summary_.end = direct->status == IoStatus::kTimeout ? "timeout" : "disconnect";
        return false;
      }
      if (direct->bytes != listed) {
        // It shrank between fstat and sendfile: part of a line may be out,
        // and no ending would make what the client has a message.
        log_error("message " + std::to_string(index + 1) + " ended after " +
                  std::to_string(direct->bytes) + " of " + std::to_string(listed) +
                  " octets while it was sent: " + log_user(summary_.user));
        maildrop_->correct_size(index, std::nullopt);
        summary_.end = "error: message read failed";
        return false;
      }
      sent_direct = listed;
      // What was appended since the fstat follows through the encoder; the
      // bytes sent end with CRLF (plain_sendable), where a fresh encoder
      // starts. sendfile left the file offset alone.
      if (::lseek(stream.fd.get(), static_cast<off_t>(listed), SEEK_SET) < 0) {
        log_error(Error::from_errno("seek message " + std::to_string(index + 1)).message + ": " +
                  log_user(summary_.user));
        summary_.end = "error: message read failed";
        return false;
      }
    }
  }

  bool whole = false;
  if (!encode_rest(stream, whole)) return false;
  stream.encoder.finish(writer_.buffer());
  const uint64_t sent = sent_direct + stream.encoder.octets();

  // Read to its end, the file has measured itself: what was sent is its
  // size. TOP that stopped early knows only that the listing was too small.
  if (whole ? sent != listed : sent > listed) {
    const bool short_retr = retr && sent < listed;
    log_warning("message " + std::to_string(index + 1) + " size differs from the listing: listed " +
                std::to_string(listed) + ", sent " + std::to_string(sent) +
                (whole ? "" : " or more") + " octets: " + log_user(summary_.user) +
                (short_retr ? "; kept at QUIT unless a later RETR sends it whole" : ""));
    std::optional<FileMeasure> measured;
    if (whole) measured = FileMeasure{sent, stream.encoder.unchanged()};
    maildrop_->correct_size(index, measured);
  }

  if (retr) {
    ++summary_.retrieved;
    summary_.retrieved_bytes += sent;
    // Fewer octets than LIST promised: the client cannot tell this from a
    // message it has whole, so a DELE of it must not destroy the original.
    set_cut_short(index, sent < listed);
    if (retrieved_.empty()) retrieved_.assign(deleted_.size(), false);
    retrieved_[index] = true;
  }
  return true;
}

Reply Pop3Session::cmd_dele(const Command& cmd) {
  Result<size_t> index = message_index(cmd.args[0]);
  if (!index) return Reply::bad(index.error().message);
  deleted_[*index] = true;
  return Reply::good("Marked to be deleted.");
}

Reply Pop3Session::cmd_noop(const Command&) {
  return Reply::good("");
}

Reply Pop3Session::cmd_rset(const Command&) {
  deleted_.assign(deleted_.size(), false);
  // As Dovecot's RSET: the session starts over, so nothing it read so far
  // is marked read at QUIT unless it is read again.
  retrieved_.clear();
  uint64_t octets = 0;
  for (size_t i = 0; i < deleted_.size(); ++i) octets += maildrop_->size(i);
  return Reply::good("maildrop has " + std::to_string(deleted_.size()) + " messages (" +
                     std::to_string(octets) + " octets)");
}

Reply Pop3Session::cmd_quit_transaction(const Command&) {
  // RFC 1939 6: the UPDATE state, reached only through QUIT. A message the
  // client never got whole stays, DELE or not: the file may hold what the
  // client's copy lacks.
  std::vector<bool> remove = deleted_;
  unsigned kept = 0;
  for (size_t i = 0; i < remove.size(); ++i) {
    if (!remove[i] || !cut_short(i)) continue;
    remove[i] = false;
    ++kept;
    log_warning("message " + std::to_string(i + 1) +
                " not removed: its RETR was cut short: " + log_user(summary_.user));
  }
  static const std::vector<bool> kNoneRetrieved;
  Result<CommitStats> stats = maildrop_->commit(
      remove, ctx_.settings.pop3.mark_retrieved_seen ? retrieved_ : kNoneRetrieved);
  // The UPDATE state is over: the maildrop's locks go before the client
  // hears so, so that a client that logs in again at once is let in.
  maildrop_.reset();
  if (!stats) {
    log_error("commit failed: " + log_user(summary_.user) +
              ", reason=" + log_escape(stats.error().message));
    return Reply::end(Reply::fail("[SYS/TEMP] Unable to remove the deleted messages."), "quit");
  }
  summary_.deleted = stats->deleted;
  summary_.deleted_bytes = stats->deleted_bytes;
  if (kept > 0) {
    // RFC 1939 6: "-ERR some deleted messages not removed".
    return Reply::end(Reply::fail("Some deleted messages not removed: " + std::to_string(kept) +
                                  " not sent whole."),
                      "quit");
  }
  return Reply::end(Reply::good("Logging out."), "quit");
}

}  // namespace pop3d
