// The privilege-separation protocol: what a worker may say to the
// privileged helper, and what a worker and a user's mail agent say to each
// other. Every message travels over an AF_UNIX SOCK_SEQPACKET socket (which
// keeps message boundaries) as
//
//   u32 length (of the whole message, big-endian) | u8 type | fields
//
// with fields as u8/u32/u64 (big-endian) and strings as u16 length + bytes.
// Each direction has a hard size cap; a message that is oversized,
// truncated, of an unknown type, with bytes left over, or with a field that
// breaks its rule (length, NUL, characters) is refused as a whole.
// Descriptors (a worker's channel, an agent's socket, an open message)
// ride along with SCM_RIGHTS.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/system_users.hpp"
#include "auth/user_db.hpp"
#include "mailstore/mail_store.hpp"
#include "pop3/limits.hpp"
#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

// One enum of every request and answer. The pairs (request -> answer) and
// the functions on both sides:
//   kSessionStart (+ the client's socket, no answer; str: the client address of
//                 a PROXY protocol header, or "" for the socket's own peer)
//                                          client_start_session     / helper_start_session
//   kCheckCredentials -> kCheckAnswer      client_check_credentials / helper_check_credentials
//   kCheckJob         -> kCheckAnswer      (helper -> its check processes only)
//                                          Helper::dispatch_checks  / serve_check_process
//   kOpenMaildrop     -> kOpenAnswer       client_open_maildrop     / helper_open_maildrop
//   (at agent start)     kAgentOpened + kAgentListChunk...
//                                          client_receive_listing   / agent_send_listing
//   kOpenMessage      -> kMessageAnswer    client_open_message      / agent_open_message
//   kRetrievedChunk... (no answer), then
//   kCommit           -> kCommitAnswer     client_commit            / agent_commit
//   kCorrectSize (no answer)               AgentMaildrop::correct_size / agent_correct_size
//   kNewChannel (master -> helper only)    master_hand_channel      / helper_accept_channel
enum class MsgType : uint8_t {
  kCheckCredentials = 1,
  kCheckAnswer = 2,
  kOpenMaildrop = 3,
  kOpenAnswer = 4,
  kAgentOpened = 5,
  kAgentListChunk = 6,
  kOpenMessage = 7,
  kMessageAnswer = 8,
  kCommit = 9,
  kCommitAnswer = 10,
  kNewChannel = 11,
  kSessionStart = 12,
  kCheckJob = 13,
  kCorrectSize = 14,
  kRetrievedChunk = 15,
};
constexpr uint8_t kFirstMsgType = 1;
constexpr uint8_t kLastMsgType = 15;

const char* msg_type_name(MsgType type);

// A request to the helper carries at most a user name and a password (a
// check job adds an address): 8 KiB is far above that and far below anything that could tie
// up the helper's memory.
constexpr size_t kMaxRequestSize = 8 * 1024;
// Answers and agent messages carry paths and listing chunks; the agent
// splits a listing so that no message passes this (well under the default
// AF_UNIX socket buffer, so one message always fits).
constexpr size_t kMaxAgentMessageSize = 64 * 1024;
// u32 length + u8 type.
constexpr size_t kHeaderSize = 5;

// Field limits, each with its reason.
// A password longer than this is no password a human typed; crypt(3)
// implementations cut or refuse far shorter ones anyway.
constexpr size_t kMaxPasswordLength = 1024;
// The textual form of an IPv6 address with a zone is at most ~64 bytes.
constexpr size_t kMaxAddressLength = 64;
// PATH_MAX.
constexpr size_t kMaxPathLength = 4096;
// Reasons are for log lines only.
constexpr size_t kMaxReasonLength = 512;
// RFC 1939: a unique-id is 1 to 70 characters in 0x21-0x7E.
using pop3_limits::kMaxUidlLength;
// One listing entry is at most 8 + 1 + 2 + 70 bytes; this many fit a chunk.
constexpr size_t kListEntriesPerChunk = 512;
// The maildrop store refuses more messages than this; so does the protocol.
constexpr uint32_t kMaxListedMessages = 500'000;
// The deletion bitmap of the largest maildrop (62,500 bytes) fills a commit
// message; the retrieved flags travel ahead of it in chunks of this many,
// a 32 KiB bitmap each, so two chunks carry the largest maildrop.
constexpr uint32_t kRetrievedPerChunk = 8 * 32 * 1024;

// Builds one message. The buffer is wiped when the builder goes away, as
// it may hold a password.
class MessageBuilder {
 public:
  explicit MessageBuilder(MsgType type);
  ~MessageBuilder();
  MessageBuilder(const MessageBuilder&) = delete;
  MessageBuilder& operator=(const MessageBuilder&) = delete;

  MessageBuilder& u8(uint8_t v);
  MessageBuilder& u32(uint32_t v);
  MessageBuilder& u64(uint64_t v);
  // Strings longer than 65535 bytes cannot be encoded: the caller's bug;
  // view() then returns "" and sending fails.
  MessageBuilder& str(std::string_view s);
  // The whole message with its length filled in.
  std::string_view view();
  size_t size() const { return buf_.size(); }

 private:
  std::string buf_;
  bool overflow_ = false;
};

// Reads the fields of one received message. The first error sticks: every
// later read returns a zero value, and ok() / error() tell what went wrong.
class MessageReader {
 public:
  // Checks the header: at least kHeaderSize bytes, at most `max_size`, the
  // length field equal to the size, a known type.
  static Result<MessageReader> parse(std::string_view bytes, size_t max_size);

  MsgType type() const { return type_; }
  uint8_t u8();
  uint32_t u32();
  uint64_t u64();
  // A string of at most `max_len` bytes, never with a NUL.
  std::string_view str(size_t max_len, const char* field);
  // Ends the reading: fails when bytes are left over.
  Status finish();
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(std::string why);

 private:
  MessageReader(std::string_view bytes, MsgType type)
      : data_(bytes), pos_(kHeaderSize), type_(type) {}
  bool need(size_t n);
  std::string_view data_;
  size_t pos_;
  MsgType type_;
  std::string error_;
};

// One message off a socket, with the descriptor that came with it.
struct ReceivedMessage {
  std::string bytes;
  UniqueFd fd;  // at most one; extra descriptors are closed and refused
  ReceivedMessage() = default;
  ReceivedMessage(ReceivedMessage&&) = default;
  ReceivedMessage& operator=(ReceivedMessage&&) = default;
  ~ReceivedMessage();
};

// Sends one message, with `pass_fd` attached when >= 0.
Status send_message(int sock, std::string_view bytes, int pass_fd = -1);
// Receives one message of at most `max_size` bytes. An Error with
// sys_errno 0 and message "eof" when the peer has closed; a message that
// was cut because it was larger, or that carries more than one descriptor,
// is an Error.
Result<ReceivedMessage> receive_message(int sock, size_t max_size);

// --- the fields of each message, for both sides and the tests

struct CheckRequest {
  std::string user;
  SecretString password;
  std::string address;  // a check job's only: the helper's own getpeername()
};
// kCheckCredentials, worker -> helper: user, password. The client's address
// is not the worker's to state: the helper takes it from the socket that
// came with kSessionStart.
void encode_check_request(MessageBuilder& b, std::string_view user, std::string_view password);
Result<CheckRequest> decode_check_request(MessageReader& r);
// kCheckJob, helper -> check process: user, password, address.
void encode_check_job(MessageBuilder& b, std::string_view user, std::string_view password,
                      std::string_view address);
Result<CheckRequest> decode_check_job(MessageReader& r);

struct CheckAnswer {
  AccountCheck check = AccountCheck::kTempFail;
  UserRecord user;  // when check == kOk; never a hash
};
void encode_check_answer(MessageBuilder& b, const CheckAnswer& answer);
Result<CheckAnswer> decode_check_answer(MessageReader& r);

// kOpenAnswer / kMessageAnswer / kCommitAnswer share "u8 status, reason".
// kAgentOpened: u8 OpenStatus, reason, u32 count.
struct AgentOpened {
  OpenStatus status = OpenStatus::kTempFail;
  std::string reason;
  uint32_t count = 0;
};
void encode_agent_opened(MessageBuilder& b, const AgentOpened& opened);
Result<AgentOpened> decode_agent_opened(MessageReader& r);

// kAgentListChunk: u32 n, then n x (u64 size, u8 plain_sendable, uidl).
void encode_list_chunk(MessageBuilder& b, const std::vector<MessageInfo>& infos, size_t first,
                       size_t n);
Status decode_list_chunk(MessageReader& r, std::vector<MessageInfo>& out, size_t limit);

// kCommit: u32 count, then count bytes of 0/1.
void encode_commit(MessageBuilder& b, const std::vector<bool>& deleted);
Result<std::vector<bool>> decode_commit(MessageReader& r);

// kRetrievedChunk: u32 first, u32 n, then n bits (a bitmap as in kCommit)
// for messages first .. first+n-1: which of them the session RETRieved.
// The worker sends them in order from 0, covering every message, before
// kCommit, or none (nothing retrieved, or pop3.mark_retrieved_seen off).
// The decoder checks the chunk's own shape (n from 1 to kRetrievedPerChunk,
// first + n within kMaxListedMessages, no padding bits); the agent checks it
// against its maildrop and what came before.
struct RetrievedChunk {
  uint32_t first = 0;
  std::vector<bool> retrieved;
};
void encode_retrieved_chunk(MessageBuilder& b, const std::vector<bool>& retrieved, size_t first,
                            size_t n);
Result<RetrievedChunk> decode_retrieved_chunk(MessageReader& r);

// kCorrectSize: u32 index, u8 measured (0/1), u64 size, u8 plain_sendable
// (size and flag are 0 unless measured).
struct SizeCorrection {
  uint32_t index = 0;
  std::optional<FileMeasure> measured;
};
void encode_correct_size(MessageBuilder& b, const SizeCorrection& c);
Result<SizeCorrection> decode_correct_size(MessageReader& r);

struct CommitAnswer {
  bool ok = false;
  std::string reason;
  CommitStats stats;
};
void encode_commit_answer(MessageBuilder& b, const CommitAnswer& a);
Result<CommitAnswer> decode_commit_answer(MessageReader& r);

// Field rules shared by both sides.
bool is_valid_address_text(std::string_view address);
bool is_valid_uidl(std::string_view uidl);
bool is_valid_absolute_path(std::string_view path);

}  // namespace pop3d
