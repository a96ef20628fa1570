// The TRANSACTION and UPDATE states through a memory transport: every
// maildrop command, message numbers good and bad, RETR/TOP content, and
// that only QUIT ever commits.
#include <cppunit/extensions/HelperMacros.h>

#include <string>

#include "session_harness.hpp"

namespace pop3d {

namespace {

// FakeMailStore's two messages are 62 and 29 octets on the wire (worked out
// in session_fakes.hpp): 91 together.

// What follows the login replies.
std::string after_login(const SessionHarness& h) {
  const std::string all = h.after_greeting();
  CPPUNIT_ASSERT_MESSAGE(all, all.compare(0, kLoggedIn.size(), kLoggedIn) == 0);
  return all.substr(kLoggedIn.size());
}

}  // namespace

class SessionMailTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(SessionMailTest);
  CPPUNIT_TEST(stat_is_count_and_octets);
  CPPUNIT_TEST(list_all_and_one);
  CPPUNIT_TEST(uidl_all_and_one);
  CPPUNIT_TEST(bad_message_numbers_are_refused);
  CPPUNIT_TEST(retr_sends_crlf_dot_stuffed_message);
  CPPUNIT_TEST(retr_streams_large_message_in_bounded_writes);
  CPPUNIT_TEST(sendfile_path_is_byte_identical_to_encoder_path);
  CPPUNIT_TEST(top_sends_header_and_lines);
  CPPUNIT_TEST(dele_hides_message_until_rset);
  CPPUNIT_TEST(quit_commits_deletions);
  CPPUNIT_TEST(failed_commit_is_reported);
  CPPUNIT_TEST(eof_and_timeout_never_commit);
  CPPUNIT_TEST(vanished_message_fails_alone);
  CPPUNIT_TEST(noop_capa_and_wrong_state_commands);
  CPPUNIT_TEST(empty_maildrop);
  CPPUNIT_TEST(argument_count_is_checked);
  CPPUNIT_TEST(big_maildrop_list_streams);
  CPPUNIT_TEST(read_error_mid_message_ends_session);
  CPPUNIT_TEST(client_that_stops_reading_times_out_mid_retr);
  CPPUNIT_TEST_SUITE_END();

 public:
  void stat_is_count_and_octets() {
    SessionHarness h;
    h.run({kLogin + "STAT\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+OK 2 91\r\n"), after_login(h));
  }

  void list_all_and_one() {
    SessionHarness h;
    h.run({kLogin + "LIST\r\nLIST 2\r\n"});
    CPPUNIT_ASSERT_EQUAL(
        std::string("+OK 2 messages (91 octets)\r\n1 62\r\n2 29\r\n.\r\n+OK 2 29\r\n"),
        after_login(h));
  }

  void uidl_all_and_one() {
    SessionHarness h;
    h.run({kLogin + "uidl\r\nUIDL 1\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+OK\r\n1 uid-one\r\n2 uid-two\r\n.\r\n+OK 1 uid-one\r\n"),
                         after_login(h));
  }

  void bad_message_numbers_are_refused() {
    SessionHarness h;
    const SessionSummary s =
        h.run({kLogin + "RETR 0\r\nRETR 3\r\nLIST -1\r\nLIST +1\r\nDELE abc\r\n"
                        "TOP 1x 0\r\nUIDL 99999999999999999999999\r\nRETR 1 \r\n"
                        "TOP 1 -1\r\nSTAT\r\n"});
    const std::string invalid = "-ERR Invalid message number.\r\n";
    CPPUNIT_ASSERT_EQUAL("-ERR There's no message 0.\r\n-ERR There's no message 3.\r\n" + invalid +
                             invalid + invalid + invalid + invalid +
                             "-ERR Invalid arguments: empty argument.\r\n"
                             "-ERR Invalid number of lines.\r\n+OK 2 91\r\n",
                         after_login(h));
    CPPUNIT_ASSERT_EQUAL(std::string("disconnect"), s.end);
  }

  void retr_sends_crlf_dot_stuffed_message() {
    SessionHarness h;
    const SessionSummary s = h.run({kLogin + "RETR 1\r\nRETR 2\r\n"});
    // 62 octets of message 1 plus the stuffed dot; message 2 as it is.
    CPPUNIT_ASSERT_EQUAL(std::string("+OK 62 octets\r\nFrom: a@example.org\r\nSubject: one\r\n"
                                     "\r\nHello\r\n..hidden dot\r\nbye\r\n.\r\n"
                                     "+OK 29 octets\r\nSubject: two\r\n\r\nsecond body\r\n.\r\n"),
                         after_login(h));
    CPPUNIT_ASSERT_EQUAL(2u, s.retrieved);
    CPPUNIT_ASSERT_EQUAL(uint64_t{91}, s.retrieved_bytes);
  }

  void retr_streams_large_message_in_bounded_writes() {
    SessionHarness h;
    // The file, its wire form and its size are built together, line by
    // line, from what each line is: no rule is applied to the bytes.
    std::string big, wire;
    uint64_t size = 0;
    for (int i = 0; big.size() < 3 * 1024 * 1024; ++i) {
      const std::string text = (i % 7 == 0 ? ".line " : "line ") + std::to_string(i);
      big += text + (i % 3 ? "\n" : "\r\n");
      wire += (i % 7 == 0 ? "." : "") + text + "\r\n";  // stuffed on the wire
      size += text.size() + 2;                          // CRLF; stuffing is not counted
    }
    const std::string last(100 * 1000, 'L');  // a long last line without newline
    big += last;
    wire += last + "\r\n";
    size += last.size() + 2;
    h.store.messages = {{.content = big, .uidl = "big", .size = size}};
    const SessionSummary s = h.run({kLogin + "RETR 1\r\nQUIT\r\n"});
    const std::string out = after_login(h);
    const std::string expected =
        "+OK " + std::to_string(size) + " octets\r\n" + wire + ".\r\n+OK Logging out.\r\n";
    CPPUNIT_ASSERT_EQUAL(expected.size(), out.size());
    CPPUNIT_ASSERT(expected == out);
    CPPUNIT_ASSERT_EQUAL(size, s.retrieved_bytes);
    // Streamed: several writes, none holding the whole message.
    CPPUNIT_ASSERT(h.pipe->writes > 10);
  }

  void sendfile_path_is_byte_identical_to_encoder_path() {
    // A message already in wire form, big enough for sendfile, and a small
    // one that goes with its "+OK" in one write whatever the transport.
    std::string wire;
    for (int i = 0; wire.size() < 300 * 1024; ++i)
      wire += "Line " + std::to_string(i) + " of a CRLF message.\r\n";
    // Every line of both ends in CRLF, so each size is its byte count:
    // "Subject: s" 10+2, "" 2, "small" 5+2 = 21.
    const std::vector<FakeMessage> messages = {
        {.content = wire, .uidl = "big", .plain = true, .size = wire.size()},
        {.content = "Subject: s\r\n\r\nsmall\r\n", .uidl = "small", .plain = true, .size = 21}};
    const std::string script = kLogin + "RETR 1\r\nRETR 2\r\nTOP 1 2\r\nRETR 1\r\nQUIT\r\n";
    std::string outputs[3];
    size_t sendfiles[3];
    SessionSummary summaries[3];
    for (int mode = 0; mode < 3; ++mode) {  // 0: sendfile, 1: no sendfile, 2: TLS
      SessionHarness h;
      h.store.messages = messages;
      h.pipe->sendfile = mode != 1;
      summaries[mode] = h.run({script}, /*tls_transport=*/mode == 2);
      outputs[mode] = h.pipe->output;
      sendfiles[mode] = h.pipe->sendfiles;
    }
    CPPUNIT_ASSERT_EQUAL(size_t{2}, sendfiles[0]);  // the two big RETRs, not TOP or the small one
    CPPUNIT_ASSERT_EQUAL(size_t{0}, sendfiles[1]);
    CPPUNIT_ASSERT_EQUAL(size_t{0}, sendfiles[2]);
    CPPUNIT_ASSERT(outputs[0] == outputs[1]);
    CPPUNIT_ASSERT(outputs[0] == outputs[2]);
    const std::string head = "+OK " + std::to_string(wire.size()) + " octets\r\n";
    CPPUNIT_ASSERT(outputs[0].find(head + wire + ".\r\n") != std::string::npos);
    for (const SessionSummary& s : summaries) {
      CPPUNIT_ASSERT_EQUAL(3u, s.retrieved);
      CPPUNIT_ASSERT_EQUAL(2 * wire.size() + 21, s.retrieved_bytes);
      CPPUNIT_ASSERT_EQUAL(std::string("quit"), s.end);
    }
  }

  void top_sends_header_and_lines() {
    SessionHarness h;
    h.run({kLogin + "TOP 1 0\r\nTOP 1 2\r\nTOP 2 100\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+OK\r\nFrom: a@example.org\r\nSubject: one\r\n\r\n.\r\n"
                                     "+OK\r\nFrom: a@example.org\r\nSubject: one\r\n\r\nHello\r\n"
                                     "..hidden dot\r\n.\r\n"
                                     "+OK\r\nSubject: two\r\n\r\nsecond body\r\n.\r\n"),
                         after_login(h));
  }

  void dele_hides_message_until_rset() {
    SessionHarness h;
    h.run({kLogin +
           "DELE 1\r\nDELE 1\r\nRETR 1\r\nLIST 1\r\nSTAT\r\nLIST\r\nUIDL\r\nRSET\r\nSTAT\r\n"});
    const std::string gone = "-ERR Message 1 is deleted.\r\n";
    CPPUNIT_ASSERT_EQUAL("+OK Marked to be deleted.\r\n" + gone + gone + gone +
                             "+OK 1 29\r\n+OK 1 messages (29 octets)\r\n2 29\r\n.\r\n"
                             "+OK\r\n2 uid-two\r\n.\r\n+OK maildrop has 2 messages (91 octets)\r\n"
                             "+OK 2 91\r\n",
                         after_login(h));
    CPPUNIT_ASSERT_EQUAL(0, h.store.record->commits);
  }

  void quit_commits_deletions() {
    SessionHarness h;
    const SessionSummary s = h.run({kLogin + "DELE 2\r\nQUIT\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+OK Marked to be deleted.\r\n+OK Logging out.\r\n"),
                         after_login(h));
    CPPUNIT_ASSERT_EQUAL(1, h.store.record->commits);
    CPPUNIT_ASSERT(h.store.record->committed == std::vector<bool>({false, true}));
    CPPUNIT_ASSERT_EQUAL(1u, s.deleted);
    CPPUNIT_ASSERT_EQUAL(uint64_t{29}, s.deleted_bytes);
    CPPUNIT_ASSERT_EQUAL(std::string("quit"), s.end);
  }

  void failed_commit_is_reported() {
    SessionHarness h;
    h.store.record->fail_commit = true;
    const SessionSummary s = h.run({kLogin + "DELE 1\r\nQUIT\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+OK Marked to be deleted.\r\n"
                                     "-ERR [SYS/TEMP] Unable to remove the deleted messages.\r\n"),
                         after_login(h));
    CPPUNIT_ASSERT_EQUAL(0u, s.deleted);
    CPPUNIT_ASSERT_EQUAL(std::string("quit"), s.end);
  }

  void eof_and_timeout_never_commit() {
    SessionHarness eof;
    const SessionSummary s1 = eof.run({kLogin + "DELE 1\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("disconnect"), s1.end);
    CPPUNIT_ASSERT_EQUAL(0, eof.store.record->commits);

    SessionHarness idle;
    idle.pipe->send(kLogin + "DELE 1\r\n");
    idle.pipe->timeout();
    const SessionSummary s2 = run_session(idle.ctx, std::make_unique<MemoryTransport>(idle.pipe));
    CPPUNIT_ASSERT_EQUAL(
        std::string("+OK Marked to be deleted.\r\n-ERR Disconnected for inactivity.\r\n"),
        after_login(idle));
    CPPUNIT_ASSERT_EQUAL(std::string("timeout"), s2.end);
    CPPUNIT_ASSERT_EQUAL(0, idle.store.record->commits);

    SessionHarness broken;
    broken.pipe->send(kLogin + "DELE 1\r\n");
    broken.pipe->error();
    const SessionSummary s3 =
        run_session(broken.ctx, std::make_unique<MemoryTransport>(broken.pipe));
    CPPUNIT_ASSERT_EQUAL(0, broken.store.record->commits);
    CPPUNIT_ASSERT(s3.end.rfind("error", 0) == 0);
  }

  void vanished_message_fails_alone() {
    SessionHarness h;
    h.store.messages[0].vanished = true;
    const SessionSummary s = h.run({kLogin + "RETR 1\r\nTOP 1 0\r\nRETR 2\r\n"});
    const std::string gone = "-ERR [SYS/TEMP] Message 1 is no longer available.\r\n";
    CPPUNIT_ASSERT_EQUAL(gone + gone + "+OK 29 octets\r\nSubject: two\r\n\r\nsecond body\r\n.\r\n",
                         after_login(h));
    CPPUNIT_ASSERT_EQUAL(1u, s.retrieved);
  }

  void noop_capa_and_wrong_state_commands() {
    SessionHarness h;
    h.run({kLogin + "NOOP\r\nCAPA\r\nUSER bob\r\nPASS x\r\nAUTH\r\n"});
    CPPUNIT_ASSERT_EQUAL(
        std::string("+OK\r\n+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
                    "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n"
                    "IMPLEMENTATION pop3d\r\n.\r\n"
                    "-ERR Unknown command: USER\r\n-ERR Unknown command: PASS\r\n"
                    "-ERR Unknown command: AUTH\r\n"),
        after_login(h));
  }

  void empty_maildrop() {
    SessionHarness h;
    h.store.messages.clear();
    h.run({kLogin + "STAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nQUIT\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+OK 0 0\r\n+OK 0 messages (0 octets)\r\n.\r\n+OK\r\n.\r\n"
                                     "-ERR There's no message 1.\r\n+OK Logging out.\r\n"),
                         after_login(h));
  }

  void argument_count_is_checked() {
    SessionHarness h;
    h.run({kLogin + "STAT 1\r\nLIST 1 2\r\nRETR\r\nTOP 1\r\nDELE\r\nQUIT now\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("-ERR Too many arguments.\r\n-ERR Too many arguments.\r\n"
                                     "-ERR Missing argument.\r\n-ERR Missing argument.\r\n"
                                     "-ERR Missing argument.\r\n-ERR Too many arguments.\r\n"),
                         after_login(h));
    CPPUNIT_ASSERT_EQUAL(0, h.store.record->commits);
  }

  void big_maildrop_list_streams() {
    SessionHarness h;
    constexpr size_t kMessages = 20000;
    // "Subject: x" 10, "" 0, "body" 4, each with CRLF for its LF: 20.
    h.store.messages.assign(
        kMessages, FakeMessage{.content = "Subject: x\n\nbody\n", .uidl = "u", .size = 20});
    h.store.messages[0].uidl = "first";
    h.run({kLogin + "DELE 2\r\nLIST\r\nUIDL\r\n"});
    const std::string out = after_login(h);
    // 19999 messages of 20 octets.
    const std::string head =
        "+OK Marked to be deleted.\r\n+OK 19999 messages (399980 octets)\r\n1 20\r\n3 ";
    CPPUNIT_ASSERT_EQUAL(head, out.substr(0, head.size()));
    CPPUNIT_ASSERT(out.find("\r\n20000 20\r\n.\r\n+OK\r\n1 first\r\n3 u\r\n") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL(std::string("\r\n20000 u\r\n.\r\n"), out.substr(out.size() - 14));
    CPPUNIT_ASSERT(h.pipe->writes > 3);  // flushed as it went, not built whole
  }

  void read_error_mid_message_ends_session() {
    SessionHarness h;
    h.store.messages[0].unreadable = true;
    const SessionSummary s = h.run({kLogin + "DELE 2\r\nRETR 1\r\nQUIT\r\n"});
    // The "+OK" was out; no "." may follow, or the client would take a
    // truncated message for a whole one.
    CPPUNIT_ASSERT_EQUAL(std::string("+OK Marked to be deleted.\r\n+OK 62 octets\r\n"),
                         after_login(h));
    CPPUNIT_ASSERT_EQUAL(std::string("error: message read failed"), s.end);
    CPPUNIT_ASSERT_EQUAL(0, h.store.record->commits);
    CPPUNIT_ASSERT_EQUAL(0u, s.retrieved);
  }

  void client_that_stops_reading_times_out_mid_retr() {
    SessionHarness h;
    // 2^20 octets and one LF, which goes out as CRLF.
    h.store.messages = {
        {.content = std::string(1 << 20, 'x') + "\n", .uidl = "big", .size = 1048578}};
    h.pipe->write_status = IoStatus::kTimeout;
    h.pipe->failing_from_write = 3;  // greeting and login go through
    const SessionSummary s = h.run({kLogin, "DELE 1\r\nRSET\r\nRETR 1\r\nQUIT\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("timeout"), s.end);
    CPPUNIT_ASSERT_EQUAL(0, h.store.record->commits);
    CPPUNIT_ASSERT_EQUAL(0u, s.retrieved);
    CPPUNIT_ASSERT_EQUAL(size_t{3}, h.pipe->writes);  // gave up at the first stalled write
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SessionMailTest);

}  // namespace pop3d
