// The privsep wire format: every message round-trips, and every way a
// hostile peer can bend one (oversized, truncated, wrong length field,
// unknown type, bytes left over, NUL or refused characters in a field) is
// refused as a whole.
#include <cppunit/extensions/HelperMacros.h>
#include <fcntl.h>
#include <sys/socket.h>

#include <string>

#include "privsep/protocol.hpp"

namespace pop3d {

namespace {

std::string bytes_of(MessageBuilder& b) {
  return std::string(b.view());
}

// A check job (helper -> check process): the worker's check request plus
// the address, so every field rule of both is exercised here.
std::string check_request(std::string_view user, std::string_view password,
                          std::string_view address) {
  MessageBuilder b(MsgType::kCheckJob);
  encode_check_job(b, user, password, address);
  return bytes_of(b);
}

Result<CheckRequest> decode_request(const std::string& bytes) {
  Result<MessageReader> r = MessageReader::parse(bytes, kMaxRequestSize);
  if (!r) return r.error();
  return decode_check_job(*r);
}

Result<CheckRequest> decode_worker_request(const std::string& bytes) {
  Result<MessageReader> r = MessageReader::parse(bytes, kMaxRequestSize);
  if (!r) return r.error();
  return decode_check_request(*r);
}

// Field by field, so the test does not depend on UserRecord's other members.
UserRecord user_record(std::string name, uid_t uid, gid_t gid, std::string home,
                       std::string maildir) {
  UserRecord u;
  u.name = std::move(name);
  u.uid = uid;
  u.gid = gid;
  u.home = std::move(home);
  u.maildir = std::move(maildir);
  return u;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

class PrivsepProtocolTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(PrivsepProtocolTest);
  CPPUNIT_TEST(check_request_round_trips);
  CPPUNIT_TEST(worker_check_request_carries_no_address);
  CPPUNIT_TEST(correct_size_round_trips);
  CPPUNIT_TEST(oversized_message_is_refused);
  CPPUNIT_TEST(truncated_message_is_refused);
  CPPUNIT_TEST(length_field_must_match);
  CPPUNIT_TEST(unknown_type_is_refused);
  CPPUNIT_TEST(left_over_bytes_are_refused);
  CPPUNIT_TEST(nul_in_a_name_is_refused);
  CPPUNIT_TEST(bad_user_characters_are_refused);
  CPPUNIT_TEST(long_password_is_refused);
  CPPUNIT_TEST(check_answer_round_trips_without_a_hash);
  CPPUNIT_TEST(answer_with_unknown_code_is_refused);
  CPPUNIT_TEST(listing_round_trips_and_checks_uidls);
  CPPUNIT_TEST(commit_bitmap_round_trips);
  CPPUNIT_TEST(retrieved_chunk_round_trips);
  CPPUNIT_TEST(retrieved_chunk_out_of_range_is_refused);
  CPPUNIT_TEST(socket_refuses_oversized_and_passes_descriptors);
  CPPUNIT_TEST_SUITE_END();

 public:
  void check_request_round_trips() {
    Result<CheckRequest> r = decode_request(check_request("alice", "s3cret pw", "192.0.2.1"));
    CPPUNIT_ASSERT_MESSAGE(r ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), r->user);
    CPPUNIT_ASSERT_EQUAL(std::string("s3cret pw"), std::string(r->password.view()));
    CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.1"), r->address);
    r = decode_request(check_request("bob", "", "2001:db8::1"));
    CPPUNIT_ASSERT(r.ok());
  }

  void worker_check_request_carries_no_address() {
    MessageBuilder b(MsgType::kCheckCredentials);
    encode_check_request(b, "alice", "s3cret pw");
    Result<CheckRequest> r = decode_worker_request(bytes_of(b));
    CPPUNIT_ASSERT_MESSAGE(r ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), r->user);
    CPPUNIT_ASSERT_EQUAL(std::string("s3cret pw"), std::string(r->password.view()));
    CPPUNIT_ASSERT(r->address.empty());
    // A worker that still states an address is refused: bytes left over.
    MessageBuilder old(MsgType::kCheckCredentials);
    old.str("alice").str("pw").str("192.0.2.1");
    r = decode_worker_request(bytes_of(old));
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT(contains(r.error().message, "left over"));
  }

  void correct_size_round_trips() {
    auto round_trip = [](const SizeCorrection& c) {
      MessageBuilder b(MsgType::kCorrectSize);
      encode_correct_size(b, c);
      const std::string bytes = bytes_of(b);
      Result<MessageReader> r = MessageReader::parse(bytes, kMaxAgentMessageSize);
      CPPUNIT_ASSERT(r.ok());
      return decode_correct_size(*r);
    };
    Result<SizeCorrection> got = round_trip(SizeCorrection{7, FileMeasure{123456789012ull, true}});
    CPPUNIT_ASSERT_MESSAGE(got ? "" : got.error().message, got.ok());
    CPPUNIT_ASSERT_EQUAL(uint32_t{7}, got->index);
    CPPUNIT_ASSERT(got->measured.has_value());
    CPPUNIT_ASSERT_EQUAL(uint64_t{123456789012ull}, got->measured->size);
    CPPUNIT_ASSERT(got->measured->plain_sendable);
    got = round_trip(SizeCorrection{3, std::nullopt});
    CPPUNIT_ASSERT(got.ok());
    CPPUNIT_ASSERT(!got->measured.has_value());
    // "No measure" with a size in it, or a flag that is not 0/1, is refused.
    MessageBuilder bad(MsgType::kCorrectSize);
    bad.u32(1).u8(0).u64(5).u8(0);
    const std::string bytes = bytes_of(bad);
    Result<MessageReader> r = MessageReader::parse(bytes, kMaxAgentMessageSize);
    CPPUNIT_ASSERT(!decode_correct_size(*r).ok());
    MessageBuilder flag(MsgType::kCorrectSize);
    flag.u32(1).u8(2).u64(5).u8(0);
    const std::string fbytes = bytes_of(flag);
    r = MessageReader::parse(fbytes, kMaxAgentMessageSize);
    CPPUNIT_ASSERT(!decode_correct_size(*r).ok());
  }

  void oversized_message_is_refused() {
    std::string big = check_request("alice", "x", "192.0.2.1");
    big.append(kMaxRequestSize, 'A');
    const uint32_t n = static_cast<uint32_t>(big.size());
    big[0] = static_cast<char>(n >> 24);
    big[1] = static_cast<char>(n >> 16);
    big[2] = static_cast<char>(n >> 8);
    big[3] = static_cast<char>(n);
    Result<CheckRequest> r = decode_request(big);
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT(contains(r.error().message, "oversized"));
  }

  void truncated_message_is_refused() {
    CPPUNIT_ASSERT(!decode_request("").ok());
    CPPUNIT_ASSERT(!decode_request(std::string("\0\0\0\4", 4)).ok());
    // A valid header whose fields stop half-way.
    std::string msg = check_request("alice", "secret", "192.0.2.1");
    std::string cut = msg.substr(0, msg.size() - 4);
    cut[3] = static_cast<char>(cut.size());
    Result<CheckRequest> r = decode_request(cut);
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT(contains(r.error().message, "truncated"));
  }

  void length_field_must_match() {
    std::string msg = check_request("alice", "secret", "192.0.2.1");
    msg[3] = static_cast<char>(msg[3] + 1);
    Result<CheckRequest> r = decode_request(msg);
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT(contains(r.error().message, "length field"));
  }

  void unknown_type_is_refused() {
    for (const int type : {0, 16, 200, 255}) {
      std::string msg = check_request("alice", "secret", "192.0.2.1");
      msg[4] = static_cast<char>(type);
      Result<CheckRequest> r = decode_request(msg);
      CPPUNIT_ASSERT(!r.ok());
      CPPUNIT_ASSERT(contains(r.error().message, "unknown message type"));
    }
  }

  void left_over_bytes_are_refused() {
    MessageBuilder b(MsgType::kCheckJob);
    encode_check_job(b, "alice", "secret", "192.0.2.1");
    b.u8(7);
    Result<CheckRequest> r = decode_request(bytes_of(b));
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT(contains(r.error().message, "left over"));
  }

  void nul_in_a_name_is_refused() {
    Result<CheckRequest> r =
        decode_request(check_request(std::string("root\0alice", 10), "x", "192.0.2.1"));
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT(contains(r.error().message, "NUL"));
    r = decode_request(check_request("alice", std::string("pw\0x", 4), "192.0.2.1"));
    CPPUNIT_ASSERT(!r.ok());
    r = decode_request(check_request("alice", "pw", std::string("192.0.2.1\0", 10)));
    CPPUNIT_ASSERT(!r.ok());
  }

  void bad_user_characters_are_refused() {
    for (const char* name : {"", "../etc", "a/b", "-rf", ".hidden", "alice bob", "al\xc3\xa9",
                             "x@example.org", "name\n"}) {
      CPPUNIT_ASSERT_MESSAGE(name, !decode_request(check_request(name, "pw", "192.0.2.1")).ok());
    }
    CPPUNIT_ASSERT(!decode_request(check_request(std::string(65, 'a'), "pw", "192.0.2.1")).ok());
    CPPUNIT_ASSERT(decode_request(check_request(std::string(64, 'a'), "pw", "192.0.2.1")).ok());
    CPPUNIT_ASSERT(!decode_request(check_request("alice", "pw", "192.0.2.1;rm")).ok());
  }

  void long_password_is_refused() {
    CPPUNIT_ASSERT(
        decode_request(check_request("alice", std::string(kMaxPasswordLength, 'p'), "192.0.2.1"))
            .ok());
    Result<CheckRequest> r = decode_request(
        check_request("alice", std::string(kMaxPasswordLength + 1, 'p'), "192.0.2.1"));
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT(contains(r.error().message, "too long"));
  }

  void check_answer_round_trips_without_a_hash() {
    CheckAnswer a;
    a.check = AccountCheck::kOk;
    a.user = user_record("alice", 1001, 1002, "/home/alice", "/home/alice/Maildir");
    MessageBuilder b(MsgType::kCheckAnswer);
    encode_check_answer(b, a);
    const std::string bytes = bytes_of(b);
    Result<MessageReader> r = MessageReader::parse(bytes, kMaxAgentMessageSize);
    Result<CheckAnswer> back = decode_check_answer(*r);
    CPPUNIT_ASSERT(back.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), back->user.name);
    CPPUNIT_ASSERT_EQUAL(uid_t{1001}, back->user.uid);
    CPPUNIT_ASSERT_EQUAL(gid_t{1002}, back->user.gid);
    CPPUNIT_ASSERT_EQUAL(std::string("/home/alice/Maildir"), back->user.maildir);
    // Nothing but the record's fields is on the wire.
    CPPUNIT_ASSERT_EQUAL(size_t{kHeaderSize + 1 + 2 + 5 + 4 + 4 + 2 + 11 + 2 + 19}, bytes.size());

    CheckAnswer refused;
    refused.check = AccountCheck::kLocked;
    MessageBuilder rb(MsgType::kCheckAnswer);
    encode_check_answer(rb, refused);
    CPPUNIT_ASSERT_EQUAL(kHeaderSize + 1, rb.view().size());
  }

  void answer_with_unknown_code_is_refused() {
    MessageBuilder b(MsgType::kCheckAnswer);
    b.u8(kLastAccountCheck + 1);
    const std::string bytes = bytes_of(b);
    Result<MessageReader> r = MessageReader::parse(bytes, kMaxAgentMessageSize);
    CPPUNIT_ASSERT(!decode_check_answer(*r).ok());
    // A relative maildir would let the worker's record point anywhere.
    CheckAnswer a;
    a.check = AccountCheck::kOk;
    a.user = user_record("alice", 1001, 1001, "/home/alice", "Maildir");
    MessageBuilder rb(MsgType::kCheckAnswer);
    encode_check_answer(rb, a);
    const std::string rel = bytes_of(rb);
    Result<MessageReader> rr = MessageReader::parse(rel, kMaxAgentMessageSize);
    CPPUNIT_ASSERT(!decode_check_answer(*rr).ok());
  }

  void listing_round_trips_and_checks_uidls() {
    std::vector<MessageInfo> infos = {{120, "uid-1", true}, {99999999999ULL, "u2", false}};
    MessageBuilder b(MsgType::kAgentListChunk);
    encode_list_chunk(b, infos, 0, 2);
    const std::string bytes = bytes_of(b);
    Result<MessageReader> r = MessageReader::parse(bytes, kMaxAgentMessageSize);
    std::vector<MessageInfo> out;
    CPPUNIT_ASSERT(decode_list_chunk(*r, out, 2).ok());
    CPPUNIT_ASSERT_EQUAL(size_t{2}, out.size());
    CPPUNIT_ASSERT_EQUAL(uint64_t{99999999999ULL}, out[1].size);
    CPPUNIT_ASSERT(out[0].plain_sendable);
    // More entries than announced.
    Result<MessageReader> r2 = MessageReader::parse(bytes, kMaxAgentMessageSize);
    std::vector<MessageInfo> few;
    CPPUNIT_ASSERT(!decode_list_chunk(*r2, few, 1).ok());
    // A UIDL with a space breaks UIDL's reply format.
    std::vector<MessageInfo> bad = {{1, "two words", false}};
    MessageBuilder bb(MsgType::kAgentListChunk);
    encode_list_chunk(bb, bad, 0, 1);
    const std::string bad_bytes = bytes_of(bb);
    Result<MessageReader> r3 = MessageReader::parse(bad_bytes, kMaxAgentMessageSize);
    std::vector<MessageInfo> none;
    CPPUNIT_ASSERT(!decode_list_chunk(*r3, none, 1).ok());
  }

  void commit_bitmap_round_trips() {
    std::vector<bool> flags(19, false);
    flags[0] = flags[8] = flags[18] = true;
    MessageBuilder b(MsgType::kCommit);
    encode_commit(b, flags);
    const std::string bytes = bytes_of(b);
    Result<MessageReader> r = MessageReader::parse(bytes, kMaxAgentMessageSize);
    Result<std::vector<bool>> back = decode_commit(*r);
    CPPUNIT_ASSERT(back.ok());
    CPPUNIT_ASSERT(flags == *back);
    // Padding bits past the count must be clear.
    std::string padded = bytes;
    padded.back() = static_cast<char>(padded.back() | 0x80);
    Result<MessageReader> r2 = MessageReader::parse(padded, kMaxAgentMessageSize);
    CPPUNIT_ASSERT(!decode_commit(*r2).ok());
  }

  void retrieved_chunk_round_trips() {
    std::vector<bool> flags(21, false);
    flags[3] = flags[10] = flags[20] = true;
    // The stretch 3..20 of the session's flags.
    MessageBuilder b(MsgType::kRetrievedChunk);
    encode_retrieved_chunk(b, flags, 3, 18);
    const std::string bytes = bytes_of(b);
    Result<MessageReader> r = MessageReader::parse(bytes, kMaxAgentMessageSize);
    Result<RetrievedChunk> back = decode_retrieved_chunk(*r);
    CPPUNIT_ASSERT_MESSAGE(back ? "" : back.error().message, back.ok());
    CPPUNIT_ASSERT_EQUAL(uint32_t{3}, back->first);
    CPPUNIT_ASSERT(std::vector<bool>(flags.begin() + 3, flags.end()) == back->retrieved);
    // The largest chunk fits an agent message.
    std::vector<bool> all(kRetrievedPerChunk, true);
    MessageBuilder big(MsgType::kRetrievedChunk);
    encode_retrieved_chunk(big, all, 0, all.size());
    CPPUNIT_ASSERT(big.size() <= kMaxAgentMessageSize);
    const std::string big_bytes = bytes_of(big);
    Result<MessageReader> r2 = MessageReader::parse(big_bytes, kMaxAgentMessageSize);
    CPPUNIT_ASSERT(decode_retrieved_chunk(*r2).ok());
  }

  void retrieved_chunk_out_of_range_is_refused() {
    auto decode = [](uint32_t first, uint32_t n, std::string bitmap) {
      MessageBuilder b(MsgType::kRetrievedChunk);
      b.u32(first).u32(n);
      for (char c : bitmap) b.u8(static_cast<uint8_t>(c));
      const std::string bytes = bytes_of(b);
      Result<MessageReader> r = MessageReader::parse(bytes, kMaxAgentMessageSize);
      CPPUNIT_ASSERT(r.ok());
      return decode_retrieved_chunk(*r);
    };
    CPPUNIT_ASSERT(decode(0, 3, "\x07").ok());
    CPPUNIT_ASSERT(!decode(0, 0, "").ok());                           // empty
    CPPUNIT_ASSERT(!decode(0, kRetrievedPerChunk + 1, "").ok());      // too many
    CPPUNIT_ASSERT(!decode(kMaxListedMessages, 1, "\x01").ok());      // past any maildrop
    CPPUNIT_ASSERT(!decode(0xFFFFFFFFu, 2, "\x03").ok());             // wraps around
    CPPUNIT_ASSERT(!decode(kMaxListedMessages - 1, 2, "\x03").ok());  // ends past it
    CPPUNIT_ASSERT(!decode(0, 3, "\x0F").ok());                       // padding bit set
    CPPUNIT_ASSERT(!decode(0, 9, "\x01").ok());                       // bitmap cut short
    CPPUNIT_ASSERT(!decode(0, 3, std::string("\x01\x00", 2)).ok());   // bytes left over
  }

  void socket_refuses_oversized_and_passes_descriptors() {
    int sv[2];
    CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
    UniqueFd a(sv[0]), b(sv[1]);
    const std::string big(kMaxRequestSize + 100, 'x');
    CPPUNIT_ASSERT(send_message(a.get(), big).ok());
    Result<ReceivedMessage> got = receive_message(b.get(), kMaxRequestSize);
    CPPUNIT_ASSERT(!got.ok());
    CPPUNIT_ASSERT(contains(got.error().message, "oversized"));

    const std::string msg = check_request("alice", "pw", "192.0.2.1");
    UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    CPPUNIT_ASSERT(send_message(a.get(), msg, devnull.get()).ok());
    got = receive_message(b.get(), kMaxRequestSize);
    CPPUNIT_ASSERT(got.ok());
    CPPUNIT_ASSERT_EQUAL(msg, got->bytes);
    CPPUNIT_ASSERT(got->fd.valid());

    a.reset();
    got = receive_message(b.get(), kMaxRequestSize);
    CPPUNIT_ASSERT(!got.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("eof"), got.error().message);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PrivsepProtocolTest);

}  // namespace pop3d
