#include "privsep/protocol.hpp"

#include <openssl/crypto.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace pop3d {

namespace {

constexpr size_t kMaxEncodedString = 0xffff;

bool is_address_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
         c == ':' || c == '%' || c == '_' || c == '-';
}

}  // namespace

const char* msg_type_name(MsgType type) {
  switch (type) {
    case MsgType::kCheckCredentials:
      return "check-credentials";
    case MsgType::kCheckAnswer:
      return "check-answer";
    case MsgType::kOpenMaildrop:
      return "open-maildrop";
    case MsgType::kOpenAnswer:
      return "open-answer";
    case MsgType::kAgentOpened:
      return "agent-opened";
    case MsgType::kAgentListChunk:
      return "agent-list-chunk";
    case MsgType::kOpenMessage:
      return "open-message";
    case MsgType::kMessageAnswer:
      return "message-answer";
    case MsgType::kCommit:
      return "commit";
    case MsgType::kCommitAnswer:
      return "commit-answer";
    case MsgType::kNewChannel:
      return "new-channel";
    case MsgType::kSessionStart:
      return "session-start";
    case MsgType::kCheckJob:
      return "check-job";
    case MsgType::kCorrectSize:
      return "correct-size";
    case MsgType::kRetrievedChunk:
      return "retrieved-chunk";
  }
  return "unknown";
}

// ---------------------------------------------------------------- builder

MessageBuilder::MessageBuilder(MsgType type) {
  buf_.assign(4, '\0');
  buf_.push_back(static_cast<char>(type));
}

MessageBuilder::~MessageBuilder() {
  if (buf_.capacity() > 0) OPENSSL_cleanse(buf_.data(), buf_.capacity());
}

MessageBuilder& MessageBuilder::u8(uint8_t v) {
  buf_.push_back(static_cast<char>(v));
  return *this;
}

MessageBuilder& MessageBuilder::u32(uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    buf_.push_back(static_cast<char>((v >> shift) & 0xff));
  return *this;
}

MessageBuilder& MessageBuilder::u64(uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    buf_.push_back(static_cast<char>((v >> shift) & 0xff));
  return *this;
}

MessageBuilder& MessageBuilder::str(std::string_view s) {
  if (s.size() > kMaxEncodedString) {
    overflow_ = true;
    return *this;
  }
  buf_.push_back(static_cast<char>((s.size() >> 8) & 0xff));
  buf_.push_back(static_cast<char>(s.size() & 0xff));
  // Reserve first so a password is never left behind in a freed buffer.
  if (buf_.capacity() < buf_.size() + s.size()) {
    std::string bigger;
    bigger.reserve(std::max(buf_.capacity() * 2, buf_.size() + s.size()));
    bigger.append(buf_);
    OPENSSL_cleanse(buf_.data(), buf_.capacity());
    buf_.swap(bigger);
  }
  buf_.append(s);
  return *this;
}

std::string_view MessageBuilder::view() {
  if (overflow_ || buf_.size() > 0xffffffffu) return {};
  const auto n = static_cast<uint32_t>(buf_.size());
  buf_[0] = static_cast<char>((n >> 24) & 0xff);
  buf_[1] = static_cast<char>((n >> 16) & 0xff);
  buf_[2] = static_cast<char>((n >> 8) & 0xff);
  buf_[3] = static_cast<char>(n & 0xff);
  return buf_;
}

// ---------------------------------------------------------------- reader

Result<MessageReader> MessageReader::parse(std::string_view bytes, size_t max_size) {
  if (bytes.size() < kHeaderSize)
    return Error{"truncated message (" + std::to_string(bytes.size()) + " bytes)"};
  if (bytes.size() > max_size) {
    return Error{"oversized message (" + std::to_string(bytes.size()) + " bytes, at most " +
                 std::to_string(max_size) + ")"};
  }
  uint32_t declared = 0;
  for (int i = 0; i < 4; ++i) declared = (declared << 8) | static_cast<unsigned char>(bytes[i]);
  if (declared != bytes.size()) {
    return Error{"length field says " + std::to_string(declared) + " bytes, message has " +
                 std::to_string(bytes.size())};
  }
  const auto type = static_cast<unsigned char>(bytes[4]);
  if (type < kFirstMsgType || type > kLastMsgType) {
    return Error{"unknown message type " + std::to_string(type)};
  }
  return MessageReader(bytes, static_cast<MsgType>(type));
}

void MessageReader::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
}

bool MessageReader::need(size_t n) {
  if (!ok()) return false;
  if (data_.size() - pos_ < n) {
    fail(std::string("truncated ") + msg_type_name(type_) + " message");
    return false;
  }
  return true;
}

uint8_t MessageReader::u8() {
  if (!need(1)) return 0;
  return static_cast<uint8_t>(data_[pos_++]);
}

uint32_t MessageReader::u32() {
  if (!need(4)) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(data_[pos_++]);
  return v;
}

uint64_t MessageReader::u64() {
  if (!need(8)) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(data_[pos_++]);
  return v;
}

std::string_view MessageReader::str(size_t max_len, const char* field) {
  if (!need(2)) return {};
  const size_t len = (static_cast<size_t>(static_cast<unsigned char>(data_[pos_])) << 8) |
                     static_cast<unsigned char>(data_[pos_ + 1]);
  pos_ += 2;
  if (len > max_len) {
    fail(std::string(field) + " too long (" + std::to_string(len) + " bytes, at most " +
         std::to_string(max_len) + ")");
    return {};
  }
  if (!need(len)) return {};
  const std::string_view s = data_.substr(pos_, len);
  pos_ += len;
  if (s.find('\0') != std::string_view::npos) {
    fail(std::string(field) + " contains a NUL byte");
    return {};
  }
  return s;
}

Status MessageReader::finish() {
  if (ok() && pos_ != data_.size()) {
    fail(std::to_string(data_.size() - pos_) + " bytes left over in a " + msg_type_name(type_) +
         " message");
  }
  if (!ok()) return Error{error_};
  return {};
}

// ---------------------------------------------------------------- socket I/O

ReceivedMessage::~ReceivedMessage() {
  if (bytes.capacity() > 0) OPENSSL_cleanse(bytes.data(), bytes.capacity());
}

Status send_message(int sock, std::string_view bytes, int pass_fd) {
  if (bytes.empty()) return Error{"message could not be encoded"};
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (pass_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("sendmsg");
    if (static_cast<size_t>(n) != bytes.size()) return Error{"short sendmsg"};
    return {};
  }
}

Result<ReceivedMessage> receive_message(int sock, size_t max_size) {
  ReceivedMessage out;
  // One byte more than allowed, so an oversized message shows as such even
  // where MSG_TRUNC is not reported.
  out.bytes.assign(max_size + 1, '\0');
  iovec iov{out.bytes.data(), out.bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // Room for a few descriptors, so a peer that sends several cannot make
  // the kernel drop them silently; all but a single one are refused.
  constexpr size_t kMaxFds = 4;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno("recvmsg");
  std::vector<UniqueFd> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  if (n == 0 && fds.empty()) return Error{"eof", 0};
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || static_cast<size_t>(n) > max_size) {
    return Error{"oversized message (more than " + std::to_string(max_size) + " bytes)"};
  }
  if (fds.size() > 1) return Error{"more than one descriptor attached"};
  out.bytes.resize(static_cast<size_t>(n));
  if (!fds.empty()) out.fd = std::move(fds[0]);
  return out;
}

// ---------------------------------------------------------------- fields

bool is_valid_address_text(std::string_view address) {
  if (address.size() > kMaxAddressLength) return false;
  for (const char c : address) {
    if (!is_address_char(c)) return false;
  }
  return true;
}

bool is_valid_uidl(std::string_view uidl) {
  if (uidl.empty() || uidl.size() > kMaxUidlLength) return false;
  for (const char c : uidl) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

bool is_valid_absolute_path(std::string_view path) {
  return !path.empty() && path.size() <= kMaxPathLength && path[0] == '/' &&
         path.find('\0') == std::string_view::npos;
}

namespace {

// The user and password of a check request or job, with the rules both
// share.
void decode_user_and_password(MessageReader& r, CheckRequest& req) {
  const std::string_view user = r.str(64, "user name");
  const std::string_view password = r.str(kMaxPasswordLength, "password");
  if (r.ok() && !is_valid_system_user_name(user)) r.fail("user name has characters refused");
  if (!r.ok()) return;
  req.user = std::string(user);
  req.password = SecretString(password);
}

}  // namespace

void encode_check_request(MessageBuilder& b, std::string_view user, std::string_view password) {
  b.str(user).str(password);
}

Result<CheckRequest> decode_check_request(MessageReader& r) {
  CheckRequest req;
  decode_user_and_password(r, req);
  if (Status s = r.finish(); !s) return s.error();
  return req;
}

void encode_check_job(MessageBuilder& b, std::string_view user, std::string_view password,
                      std::string_view address) {
  b.str(user).str(password).str(address);
}

Result<CheckRequest> decode_check_job(MessageReader& r) {
  CheckRequest req;
  decode_user_and_password(r, req);
  const std::string_view address = r.str(kMaxAddressLength, "client address");
  if (r.ok() && !is_valid_address_text(address)) r.fail("client address has characters refused");
  if (Status s = r.finish(); !s) return s.error();
  req.address = std::string(address);
  return req;
}

void encode_check_answer(MessageBuilder& b, const CheckAnswer& a) {
  b.u8(static_cast<uint8_t>(a.check));
  if (a.check != AccountCheck::kOk) return;
  b.str(a.user.name).u32(a.user.uid).u32(a.user.gid).str(a.user.home).str(a.user.maildir);
}

Result<CheckAnswer> decode_check_answer(MessageReader& r) {
  CheckAnswer a;
  const uint8_t code = r.u8();
  if (r.ok() && code > kLastAccountCheck) r.fail("unknown check result " + std::to_string(code));
  a.check = static_cast<AccountCheck>(code);
  if (r.ok() && a.check == AccountCheck::kOk) {
    const std::string_view name = r.str(64, "user name");
    a.user.uid = r.u32();
    a.user.gid = r.u32();
    const std::string_view home = r.str(kMaxPathLength, "home");
    const std::string_view maildir = r.str(kMaxPathLength, "maildir");
    if (r.ok() && !is_valid_system_user_name(name)) r.fail("user name has characters refused");
    if (r.ok() && !is_valid_absolute_path(maildir)) r.fail("maildir is not an absolute path");
    a.user.name = std::string(name);
    a.user.home = std::string(home);
    a.user.maildir = std::string(maildir);
  }
  if (Status s = r.finish(); !s) return s.error();
  return a;
}

void encode_agent_opened(MessageBuilder& b, const AgentOpened& o) {
  b.u8(static_cast<uint8_t>(o.status)).str(o.reason.substr(0, kMaxReasonLength)).u32(o.count);
}

Result<AgentOpened> decode_agent_opened(MessageReader& r) {
  AgentOpened o;
  const uint8_t status = r.u8();
  if (r.ok() && status > static_cast<uint8_t>(OpenStatus::kPermFail)) {
    r.fail("unknown open status " + std::to_string(status));
  }
  o.status = static_cast<OpenStatus>(status);
  o.reason = std::string(r.str(kMaxReasonLength, "reason"));
  o.count = r.u32();
  if (r.ok() && o.count > kMaxListedMessages) r.fail("too many messages listed");
  if (Status s = r.finish(); !s) return s.error();
  return o;
}

void encode_list_chunk(MessageBuilder& b, const std::vector<MessageInfo>& infos, size_t first,
                       size_t n) {
  b.u32(static_cast<uint32_t>(n));
  for (size_t i = first; i < first + n; ++i) {
    b.u64(infos[i].size).u8(infos[i].plain_sendable ? 1 : 0).str(infos[i].uidl);
  }
}

Status decode_list_chunk(MessageReader& r, std::vector<MessageInfo>& out, size_t limit) {
  const uint32_t n = r.u32();
  if (r.ok() && (n == 0 || n > kListEntriesPerChunk || out.size() + n > limit)) {
    r.fail("listing chunk of " + std::to_string(n) + " entries does not fit");
  }
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    MessageInfo info;
    info.size = r.u64();
    const uint8_t plain = r.u8();
    const std::string_view uidl = r.str(kMaxUidlLength, "uidl");
    if (r.ok() && plain > 1) r.fail("bad plain_sendable flag");
    if (r.ok() && !is_valid_uidl(uidl)) r.fail("uidl has characters refused");
    info.plain_sendable = plain == 1;
    info.uidl = std::string(uidl);
    if (r.ok()) out.push_back(std::move(info));
  }
  return r.finish();
}

namespace {

// flags[first .. first+n-1], eight to a byte, lowest bit first.
void put_bitmap(MessageBuilder& b, const std::vector<bool>& flags, size_t first, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    uint8_t byte = 0;
    for (size_t bit = 0; bit < 8 && i + bit < n; ++bit) {
      if (flags[first + i + bit]) byte |= static_cast<uint8_t>(1u << bit);
    }
    b.u8(byte);
  }
}

// Reads n flags written by put_bitmap; the bits past n must be clear.
std::vector<bool> get_bitmap(MessageReader& r, uint32_t n, const char* what) {
  std::vector<bool> flags;
  for (uint32_t i = 0; i < n && r.ok(); i += 8) {
    const uint8_t byte = r.u8();
    for (uint32_t bit = 0; bit < 8; ++bit) {
      const bool set = (byte >> bit) & 1u;
      if (i + bit < n) {
        flags.push_back(set);
      } else if (set) {
        r.fail(std::string("padding bits set in a ") + what);
      }
    }
  }
  return flags;
}

}  // namespace

void encode_commit(MessageBuilder& b, const std::vector<bool>& deleted) {
  // A bitmap, so that the largest maildrop's flags fit one message.
  b.u32(static_cast<uint32_t>(deleted.size()));
  put_bitmap(b, deleted, 0, deleted.size());
}

Result<std::vector<bool>> decode_commit(MessageReader& r) {
  const uint32_t n = r.u32();
  if (r.ok() && n > kMaxListedMessages) r.fail("commit of " + std::to_string(n) + " flags");
  std::vector<bool> deleted = get_bitmap(r, r.ok() ? n : 0, "commit");
  if (Status s = r.finish(); !s) return s.error();
  return deleted;
}

void encode_retrieved_chunk(MessageBuilder& b, const std::vector<bool>& retrieved, size_t first,
                            size_t n) {
  b.u32(static_cast<uint32_t>(first)).u32(static_cast<uint32_t>(n));
  put_bitmap(b, retrieved, first, n);
}

Result<RetrievedChunk> decode_retrieved_chunk(MessageReader& r) {
  RetrievedChunk c;
  c.first = r.u32();
  const uint32_t n = r.u32();
  if (r.ok() && (n == 0 || n > kRetrievedPerChunk || c.first > kMaxListedMessages ||
                 n > kMaxListedMessages - c.first)) {
    r.fail("retrieved chunk of " + std::to_string(n) + " flags from " + std::to_string(c.first) +
           " does not fit");
  }
  c.retrieved = get_bitmap(r, r.ok() ? n : 0, "retrieved chunk");
  if (Status s = r.finish(); !s) return s.error();
  return c;
}

void encode_correct_size(MessageBuilder& b, const SizeCorrection& c) {
  b.u32(c.index).u8(c.measured ? 1 : 0);
  b.u64(c.measured ? c.measured->size : 0).u8(c.measured && c.measured->plain_sendable ? 1 : 0);
}

Result<SizeCorrection> decode_correct_size(MessageReader& r) {
  SizeCorrection c;
  c.index = r.u32();
  const uint8_t measured = r.u8();
  const uint64_t size = r.u64();
  const uint8_t plain = r.u8();
  if (r.ok() && (measured > 1 || plain > 1)) r.fail("bad correct-size flags");
  if (r.ok() && measured == 0 && (size != 0 || plain != 0)) {
    r.fail("correct-size without a measure carries one");
  }
  if (Status s = r.finish(); !s) return s.error();
  if (measured == 1) c.measured = FileMeasure{size, plain == 1};
  return c;
}

void encode_commit_answer(MessageBuilder& b, const CommitAnswer& a) {
  b.u8(a.ok ? 1 : 0)
      .str(a.reason.substr(0, kMaxReasonLength))
      .u32(a.stats.deleted)
      .u64(a.stats.deleted_bytes)
      .u32(a.stats.already_gone);
}

Result<CommitAnswer> decode_commit_answer(MessageReader& r) {
  CommitAnswer a;
  const uint8_t ok = r.u8();
  if (r.ok() && ok > 1) r.fail("bad commit status");
  a.ok = ok == 1;
  a.reason = std::string(r.str(kMaxReasonLength, "reason"));
  a.stats.deleted = r.u32();
  a.stats.deleted_bytes = r.u64();
  a.stats.already_gone = r.u32();
  if (Status s = r.finish(); !s) return s.error();
  return a;
}

}  // namespace pop3d
