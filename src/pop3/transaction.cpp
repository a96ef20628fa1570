// The TRANSACTION state: the maildrop commands of RFC 1939 5, and QUIT,
// which enters UPDATE and commits the deletions. Nothing here changes the
// maildrop on disk before that commit; a session that ends any other way
// leaves it as it was.
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

bool Pop3Session::stream_message(Reply::Stream& stream) {
  const MessageInfo& info = maildrop_->info(stream.index);
  const uint64_t listed = info.size;
  uint64_t sent = 0;
  // A file that is already its own wire form goes from the page cache to
  // the socket; small ones are cheaper gathered with the "+OK" into one
  // write.
  std::optional<IoResult> direct;
  if (stream.counts_as_retrieval && info.plain_sendable &&
      listed >= pop3_limits::kSendfileMinBytes && !writer_.failed()) {
    if (!writer_.flush()) return end_for_write_failure();
    direct = transport_->send_file(stream.fd.get(), 0, static_cast<size_t>(listed),
                                   ctx_.settings.pop3.idle_timeout);
  }
  if (direct) {
    if (direct->status != IoStatus::kOk) {
      summary_.end = direct->status == IoStatus::kTimeout ? "timeout" : "disconnect";
      return false;
    }
    if (direct->bytes != listed) {
      // Shorter than listed: the "+OK" promised more than there is.
      log_error("message " + std::to_string(stream.index + 1) + " ended after " +
                std::to_string(direct->bytes) + " of " + std::to_string(listed) + " octets");
      summary_.end = "error: message read failed";
      return false;
    }
    sent = listed;
    writer_.end_multiline();
  } else {
    if (!file_chunk_) file_chunk_ = std::make_unique_for_overwrite<char[]>(pop3_limits::kRetrChunk);
    while (!stream.encoder.done()) {
      const ssize_t n = ::read(stream.fd.get(), file_chunk_.get(), pop3_limits::kRetrChunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        // The "+OK" is out already; ending the reply with "." would hand
        // the client a truncated message as if it were whole.
        log_error(Error::from_errno("read message " + std::to_string(stream.index + 1)).message);
        writer_.flush();
        summary_.end = "error: message read failed";
        return false;
      }
      if (n == 0) break;
      stream.encoder.encode(std::string_view(file_chunk_.get(), static_cast<size_t>(n)),
                            writer_.buffer());
      if (!writer_.flush_if_full()) return end_for_write_failure();
      // All the listed octets are out: the file is done, and no read is
      // spent to find its end (Maildir messages never change).
      if (stream.encoder.octets() >= listed) break;
    }
    stream.encoder.finish(writer_.buffer());
    sent = stream.encoder.octets();
  }

  if (stream.counts_as_retrieval) {
    ++summary_.retrieved;
    summary_.retrieved_bytes += sent;
    if (sent != listed) {
      log_warning("message " + std::to_string(stream.index + 1) + " sent " + std::to_string(sent) +
                  " octets, listed " + std::to_string(listed) + ": " + log_user(summary_.user));
    }
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
  uint64_t octets = 0;
  for (size_t i = 0; i < deleted_.size(); ++i) octets += maildrop_->size(i);
  return Reply::good("maildrop has " + std::to_string(deleted_.size()) + " messages (" +
                     std::to_string(octets) + " octets)");
}

Reply Pop3Session::cmd_quit_transaction(const Command&) {
  // RFC 1939 6: the UPDATE state, reached only through QUIT.
  Result<CommitStats> stats = maildrop_->commit(deleted_);
  if (!stats) {
    log_error("commit failed: " + log_user(summary_.user) +
              ", reason=" + log_escape(stats.error().message));
    return Reply::end(Reply::fail("[SYS/TEMP] Unable to remove the deleted messages."), "quit");
  }
  summary_.deleted = stats->deleted;
  summary_.deleted_bytes = stats->deleted_bytes;
  return Reply::end(Reply::good("Logging out."), "quit");
}

}  // namespace pop3d
