// Fuzz target: the privilege-separation wire format (privsep/protocol).
// The helper stays root and reads what workers send; a worker and a user's
// mail agent read each other's messages. Each side assumes the other is
// compromised, so one message of any bytes must be refused as a whole or
// decode to fields that keep their rules.
//
// Input: one flag byte, then the message. Flag bit 0 fills in the length
// field (so the search reaches the fields instead of guessing lengths),
// bit 1 picks the helper's 8 KiB cap over the agent's 64 KiB, bit 2 lifts
// the listing limit, bits 4-7 say how many entries the listing already
// holds. The message is then decoded as every type (a decoder must cope
// with whatever its caller hands it), and what decodes as its own type
// must encode back to the same bytes: the format has one spelling per
// message, so a decoder that accepts a second one is lax somewhere.
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "privsep/protocol.hpp"

using namespace pop3d;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

bool same(MessageBuilder& b, std::string_view message) {
  return b.view() == message;
}

// The header rules, restated: parse must refuse exactly these.
bool header_is_valid(std::string_view m, size_t cap) {
  if (m.size() < kHeaderSize || m.size() > cap) return false;
  uint32_t declared = 0;
  for (int i = 0; i < 4; ++i) declared = (declared << 8) | static_cast<unsigned char>(m[i]);
  const auto type = static_cast<unsigned char>(m[4]);
  return declared == m.size() && type >= kFirstMsgType && type <= kLastMsgType;
}

// "u8 status, reason": kOpenAnswer and kMessageAnswer, read as the worker
// reads them.
void status_and_reason(std::string_view m, size_t cap, MsgType type) {
  Result<MessageReader> r = MessageReader::parse(m, cap);
  const uint8_t status = r->u8();
  const std::string reason(r->str(kMaxReasonLength, "reason"));
  if (!r->finish() || r->type() != type) return;
  require(reason.size() <= kMaxReasonLength && reason.find('\0') == std::string::npos);
  MessageBuilder b(type);
  b.u8(status).str(reason);
  require(same(b, m));
}

// Decodes `m` with `decode`: what decodes must keep `rules` and, when the
// message is of `type`, encode back to the same bytes.
template <typename Decode, typename Rules, typename Encode>
void round_trip(std::string_view m, size_t cap, MsgType type, Decode decode, Rules rules,
                Encode encode) {
  Result<MessageReader> r = MessageReader::parse(m, cap);
  auto value = decode(*r);
  if (!value) return;
  rules(*value);
  if (r->type() != type) return;
  MessageBuilder b(type);
  encode(b, *value);
  require(same(b, m));
}

void check_request(std::string_view m, size_t cap) {
  round_trip(
      m, cap, MsgType::kCheckCredentials, decode_check_request,
      [](const CheckRequest& req) {
        require(is_valid_system_user_name(req.user));
        require(req.address.empty());
        require(req.password.view().size() <= kMaxPasswordLength);
        require(req.password.view().find('\0') == std::string_view::npos);
      },
      [](MessageBuilder& b, const CheckRequest& req) {
        encode_check_request(b, req.user, req.password.view());
      });
}

void check_job(std::string_view m, size_t cap) {
  round_trip(
      m, cap, MsgType::kCheckJob, decode_check_job,
      [](const CheckRequest& req) {
        require(is_valid_system_user_name(req.user));
        require(is_valid_address_text(req.address));
        require(req.password.view().size() <= kMaxPasswordLength);
        require(req.password.view().find('\0') == std::string_view::npos);
      },
      [](MessageBuilder& b, const CheckRequest& req) {
        encode_check_job(b, req.user, req.password.view(), req.address);
      });
}

void correct_size(std::string_view m, size_t cap) {
  round_trip(
      m, cap, MsgType::kCorrectSize, decode_correct_size, [](const SizeCorrection&) {},
      encode_correct_size);
}

void check_answer(std::string_view m, size_t cap) {
  round_trip(
      m, cap, MsgType::kCheckAnswer, decode_check_answer,
      [](const CheckAnswer& a) {
        require(static_cast<uint8_t>(a.check) <= kLastAccountCheck);
        if (a.check != AccountCheck::kOk) return;
        require(is_valid_system_user_name(a.user.name));
        require(is_valid_absolute_path(a.user.maildir));
      },
      encode_check_answer);
}

void agent_opened(std::string_view m, size_t cap) {
  round_trip(
      m, cap, MsgType::kAgentOpened, decode_agent_opened,
      [](const AgentOpened& o) {
        require(o.count <= kMaxListedMessages);
        require(o.reason.size() <= kMaxReasonLength);
      },
      encode_agent_opened);
}

void list_chunk(std::string_view m, size_t cap, uint8_t flags) {
  Result<MessageReader> r = MessageReader::parse(m, cap);
  const size_t before = flags >> 4;
  std::vector<MessageInfo> infos(before);
  for (MessageInfo& info : infos) info.uidl = "x";
  const size_t limit = (flags & 4) != 0 ? kMaxListedMessages : before + 3;
  const Status s = decode_list_chunk(*r, infos, limit);
  require(infos.size() <= limit);
  if (!s) return;
  require(infos.size() > before && infos.size() - before <= kListEntriesPerChunk);
  for (size_t i = before; i < infos.size(); ++i) require(is_valid_uidl(infos[i].uidl));
  if (r->type() != MsgType::kAgentListChunk) return;
  MessageBuilder b(MsgType::kAgentListChunk);
  encode_list_chunk(b, infos, before, infos.size() - before);
  require(same(b, m));
}

void commit(std::string_view m, size_t cap) {
  round_trip(
      m, cap, MsgType::kCommit, decode_commit,
      [](const std::vector<bool>& deleted) { require(deleted.size() <= kMaxListedMessages); },
      encode_commit);
}

void commit_answer(std::string_view m, size_t cap) {
  round_trip(
      m, cap, MsgType::kCommitAnswer, decode_commit_answer,
      [](const CommitAnswer& a) { require(a.reason.size() <= kMaxReasonLength); },
      encode_commit_answer);
}

// kOpenMessage (u32 index), as the agent reads it; kOpenMaildrop,
// kNewChannel and kSessionStart carry no fields.
void small_requests(std::string_view m, size_t cap) {
  Result<MessageReader> r = MessageReader::parse(m, cap);
  const uint32_t index = r->u32();
  if (r->finish() && r->type() == MsgType::kOpenMessage) {
    MessageBuilder b(MsgType::kOpenMessage);
    b.u32(index);
    require(same(b, m));
  }
  Result<MessageReader> empty = MessageReader::parse(m, cap);
  if (empty->finish()) {
    MessageBuilder b(empty->type());
    require(same(b, m));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > kMaxAgentMessageSize + 2) return 0;
  fuzz::quiet_log();
  const uint8_t flags = data[0];
  std::string message(fuzz::as_text(data + 1, size - 1));
  if ((flags & 1) != 0 && message.size() >= 4) {
    const auto n = static_cast<uint32_t>(message.size());
    for (int i = 0; i < 4; ++i) message[i] = static_cast<char>((n >> (24 - 8 * i)) & 0xff);
  }
  const size_t cap = (flags & 2) != 0 ? kMaxRequestSize : kMaxAgentMessageSize;

  const Result<MessageReader> parsed = MessageReader::parse(message, cap);
  require(parsed.ok() == header_is_valid(message, cap));
  if (!parsed) return 0;

  check_request(message, cap);
  check_job(message, cap);
  correct_size(message, cap);
  check_answer(message, cap);
  agent_opened(message, cap);
  list_chunk(message, cap, flags);
  commit(message, cap);
  commit_answer(message, cap);
  status_and_reason(message, cap, MsgType::kOpenAnswer);
  status_and_reason(message, cap, MsgType::kMessageAnswer);
  small_requests(message, cap);
  return 0;
}
