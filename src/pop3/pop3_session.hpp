// Pop3Session: the state machine behind run_session(). One command table
// per state (RFC 1939 AUTHORIZATION and TRANSACTION); each handler returns a
// Reply value and one loop writes it, counts bad commands and decides
// whether the session goes on. The login commands live in
// authorization.cpp, the maildrop commands in transaction.cpp.
//
// Internal to src/pop3; tests use it directly to fix the APOP timestamp.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pop3/command.hpp"
#include "pop3/line_reader.hpp"
#include "pop3/message_encoder.hpp"
#include "pop3/response_writer.hpp"
#include "pop3/session.hpp"
#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

// What a command handler decided; the session loop turns it into bytes.
struct Reply {
  enum class After { kContinue, kEnd, kStartTls };

  // A message file to stream after the status line (RETR, TOP).
  struct Stream {
    UniqueFd fd;
    size_t index = 0;
    MessageEncoder encoder;
    bool counts_as_retrieval = false;  // RETR does, TOP does not
  };

  bool ok = true;
  bool silent = false;  // nothing to send: the connection is gone
  std::string text;     // after "+OK " / "-ERR "
  bool multiline = false;
  std::vector<std::string> lines;  // body of a multi-line reply
  // LIST / UIDL of the whole maildrop: written line by line from the
  // maildrop, so a huge maildrop costs no more memory than a small one.
  enum class Listing { kNone, kSizes, kUidls };
  Listing listing = Listing::kNone;
  std::optional<Stream> stream;
  bool bad_command = false;  // counts toward pop3_limits::kMaxBadCommands
  After after = After::kContinue;
  std::string end_reason;  // SessionSummary::end when after == kEnd

  static Reply good(std::string text);
  static Reply fail(std::string text);
  static Reply bad(std::string text);  // a protocol error by the client
  static Reply multiline_reply(std::string text, std::vector<std::string> lines);
  static Reply end(Reply reply, std::string reason);
};

class Pop3Session {
 public:
  using Clock = std::chrono::steady_clock;

  // `apop_timestamp` is empty when APOP is not offered.
  Pop3Session(SessionContext& context, std::unique_ptr<Transport> transport,
              std::string apop_timestamp);

  SessionSummary run();

  // "<pid.random@hostname>" (RFC 1939 7): unique per greeting, so a digest
  // seen once cannot be replayed.
  static std::string make_apop_timestamp(std::string_view hostname);

 private:
  enum class State { kAuthorization, kTransaction };
  using Handler = Reply (Pop3Session::*)(const Command&);
  struct CommandSpec {
    std::string_view name;
    Handler handler;
    size_t min_args;
    size_t max_args;
    bool takes_rest = false;  // the rest of the line is one argument (PASS)
  };
  static const std::vector<CommandSpec> kAuthorizationCommands;
  static const std::vector<CommandSpec> kTransactionCommands;

  // session.cpp: the loop
  Clock::time_point input_deadline() const;
  Reply dispatch(std::string_view line);
  bool send(Reply reply);  // false: the session is over
  bool start_tls();
  bool end_for_write_failure();
  Reply input_ended(LineReader::Status status);
  bool plaintext_allowed() const;
  bool stls_offered() const;
  Reply cmd_capa(const Command& cmd);

  // authorization.cpp
  Reply cmd_user(const Command& cmd);
  Reply cmd_pass(const Command& cmd);
  Reply cmd_apop(const Command& cmd);
  Reply cmd_auth(const Command& cmd);
  Reply cmd_stls(const Command& cmd);
  Reply cmd_quit_authorization(const Command& cmd);
  Reply auth_plain(std::optional<std::string> initial);
  Reply auth_login(std::optional<std::string> initial);
  // Sends a SASL challenge and reads the answer; a Reply when the exchange
  // cannot go on (cancel, bad base64, connection gone).
  std::optional<Reply> sasl_exchange(std::string_view challenge, std::string& decoded);
  // Logs, tells the policy and waits auth.failure_delay; `who` and `reason`
  // are already escaped.
  void login_failed(const std::string& who, const std::string& reason);
  Reply finish_login(std::string_view name, const AuthOutcome& outcome, std::string_view mechanism);

  // transaction.cpp
  Reply cmd_stat(const Command& cmd);
  Reply cmd_list(const Command& cmd);
  Reply cmd_uidl(const Command& cmd);
  Reply cmd_retr(const Command& cmd);
  Reply cmd_top(const Command& cmd);
  Reply cmd_dele(const Command& cmd);
  Reply cmd_noop(const Command& cmd);
  Reply cmd_rset(const Command& cmd);
  Reply cmd_quit_transaction(const Command& cmd);
  Result<size_t> message_index(std::string_view arg) const;
  Reply open_stream(size_t index, MessageEncoder encoder, bool counts_as_retrieval,
                    std::string status_text);
  bool stream_message(Reply::Stream& stream);  // false: the session is over
  // Reads the rest of the stream's file through its encoder into the
  // writer, to the file's end (or TOP's last line). False when the session
  // is over (`summary_.end` set); `whole` tells whether EOF was reached.
  bool encode_rest(Reply::Stream& stream, bool& whole);
  void set_cut_short(size_t index, bool cut);
  bool cut_short(size_t index) const { return index < cut_short_.size() && cut_short_[index]; }
  bool write_listing(Reply::Listing listing);  // false: the session is over

  SessionContext& ctx_;
  // The plain transport outlives the TLS one that may wrap it after STLS.
  std::unique_ptr<Transport> plain_transport_;
  std::unique_ptr<Transport> transport_;
  LineReader reader_;
  ResponseWriter writer_;
  const std::string apop_timestamp_;
  const Clock::time_point started_;

  State state_ = State::kAuthorization;
  // When the command being handled arrived: login latency counts from it.
  std::chrono::steady_clock::time_point command_started_{};
  std::string pending_user_;  // set by USER, used by the PASS right after it
  int bad_commands_ = 0;      // in a row
  std::unique_ptr<Maildrop> maildrop_;
  std::vector<bool> deleted_;
  // Messages whose last RETR did not hand the client all that LIST
  // promised (the file ended early, could not be read, or the connection
  // failed mid-way): QUIT never removes them, whatever DELE said. Sized on
  // first use; most sessions never need it.
  std::vector<bool> cut_short_;
  // Messages a RETR sent to the end in this session, for the store to
  // mark read at QUIT (pop3.mark_retrieved_seen). Sized on first use.
  std::vector<bool> retrieved_;
  std::unique_ptr<char[]> file_chunk_;  // RETR/TOP read buffer, made on first use
  SessionSummary summary_;
};

}  // namespace pop3d
