// The AUTHORIZATION state through a memory transport: greeting, CAPA, every
// login method and its failures, STLS, policy, limits and time-outs.
#include <cppunit/extensions/HelperMacros.h>
#include <stdlib.h>
#include <unistd.h>

#include <regex>
#include <string>

#include "log/logger.hpp"
#include "session_harness.hpp"
#include "util/base64.hpp"

namespace pop3d {

namespace {

const std::string kCapaPlain =
    "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
    "PIPELINING\r\nEXPIRE NEVER\r\nUSER\r\nSASL PLAIN LOGIN\r\nIMPLEMENTATION pop3d\r\n.\r\n";
const std::string kAuthFailed = "-ERR [AUTH] Authentication failed.\r\n";
const std::string kPlaintextRefused =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections.\r\n";

std::string plain(const std::string& authzid, const std::string& user, const std::string& pw) {
  return base64_encode(authzid + '\0' + user + '\0' + pw);
}

}  // namespace

class SessionAuthTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(SessionAuthTest);
  CPPUNIT_TEST(greeting_then_eof_is_a_disconnect);
  CPPUNIT_TEST(greeting_carries_apop_timestamp_when_available);
  CPPUNIT_TEST(capa_lists_user_and_sasl_when_plaintext_allowed);
  CPPUNIT_TEST(tls_only_policy_hides_plaintext_and_offers_stls);
  CPPUNIT_TEST(secure_network_may_use_plaintext);
  CPPUNIT_TEST(user_pass_logs_in);
  CPPUNIT_TEST(pass_may_contain_spaces);
  CPPUNIT_TEST(unknown_user_and_bad_password_look_alike);
  CPPUNIT_TEST(failures_wait_the_failure_delay);
  CPPUNIT_TEST(temporary_auth_failure);
  CPPUNIT_TEST(pass_needs_user_right_before);
  CPPUNIT_TEST(user_again_restarts);
  CPPUNIT_TEST(apop_rfc1939_example);
  CPPUNIT_TEST(apop_refused_when_not_offered);
  CPPUNIT_TEST(auth_plain_with_initial_response);
  CPPUNIT_TEST(auth_plain_in_continuation);
  CPPUNIT_TEST(auth_plain_authzid_must_match);
  CPPUNIT_TEST(auth_login_in_continuation);
  CPPUNIT_TEST(auth_login_with_initial_response);
  CPPUNIT_TEST(auth_cancel_and_bad_base64);
  CPPUNIT_TEST(auth_wrong_password_and_unknown_mechanism);
  CPPUNIT_TEST(bare_auth_lists_mechanisms);
  CPPUNIT_TEST(sasl_lines_may_exceed_command_limit_up_to_their_own);
  CPPUNIT_TEST(sasl_timeout_and_eof_end_session);
  CPPUNIT_TEST(maildrop_open_failures_keep_authorization);
  CPPUNIT_TEST(quit_before_login);
  CPPUNIT_TEST(stls_discards_injected_commands);
  CPPUNIT_TEST(stls_forgets_user);
  CPPUNIT_TEST(stls_handshake_failure_ends_session);
  CPPUNIT_TEST(stls_refused_when_not_offered);
  CPPUNIT_TEST(blocked_client_is_disconnected);
  CPPUNIT_TEST(login_timeout_is_total);
  CPPUNIT_TEST(timeout_says_goodbye);
  CPPUNIT_TEST(twenty_bad_commands_end_session);
  CPPUNIT_TEST(good_command_resets_bad_count);
  CPPUNIT_TEST(long_line_and_nul_are_refused);
  CPPUNIT_TEST(pipelined_commands_answered_in_order_with_one_write);
  CPPUNIT_TEST(write_failure_ends_session);
  CPPUNIT_TEST(login_failure_log_lines_are_fail2ban_safe);
  CPPUNIT_TEST_SUITE_END();

 public:
  void greeting_then_eof_is_a_disconnect() {
    SessionHarness h;
    const SessionSummary s = h.run({});
    CPPUNIT_ASSERT_EQUAL(kGreeting, h.pipe->output);
    CPPUNIT_ASSERT_EQUAL(std::string("disconnect"), s.end);
    CPPUNIT_ASSERT(s.user.empty());
  }

  void greeting_carries_apop_timestamp_when_available() {
    SessionHarness h;
    h.users.apop = true;
    h.run({});
    const std::regex greeting(
        R"(\+OK pop3d ready\. <[0-9]+\.[0-9a-f]{16}@mail\.example\.org>\r\n)");
    CPPUNIT_ASSERT_MESSAGE(h.pipe->output, std::regex_match(h.pipe->output, greeting));
    // Two greetings never share a timestamp.
    CPPUNIT_ASSERT(Pop3Session::make_apop_timestamp("h") != Pop3Session::make_apop_timestamp("h"));
  }

  void capa_lists_user_and_sasl_when_plaintext_allowed() {
    SessionHarness h;
    h.run({"capa\r\n"});
    CPPUNIT_ASSERT_EQUAL(kCapaPlain, h.after_greeting());
  }

  void tls_only_policy_hides_plaintext_and_offers_stls() {
    SessionHarness h;
    h.settings.pop3.plaintext_auth = PlaintextAuth::kTlsOnly;
    h.ctx.tls = &h.tls;
    h.run({"CAPA\r\nUSER alice\r\nPASS wonderland\r\nAPOP alice 0123\r\nAUTH PLAIN " +
           plain("", "alice", "wonderland") + "\r\n"});
    const std::string capa =
        "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
        "PIPELINING\r\nEXPIRE NEVER\r\nSTLS\r\nIMPLEMENTATION pop3d\r\n.\r\n";
    CPPUNIT_ASSERT_EQUAL(capa + kPlaintextRefused + kPlaintextRefused +
                             "-ERR APOP is not available.\r\n" + kPlaintextRefused,
                         h.after_greeting());
    CPPUNIT_ASSERT(h.users.asked.empty());
  }

  void secure_network_may_use_plaintext() {
    SessionHarness h;
    h.settings.pop3.plaintext_auth = PlaintextAuth::kTlsOnly;
    h.ctx.client_is_secure = true;
    const SessionSummary s = h.run({kLogin});
    CPPUNIT_ASSERT_EQUAL(kLoggedIn, h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), s.user);
  }

  void user_pass_logs_in() {
    SessionHarness h;
    const SessionSummary s = h.run({kLogin + "QUIT\r\n"});
    CPPUNIT_ASSERT_EQUAL(kLoggedIn + "+OK Logging out.\r\n", h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), s.user);
    CPPUNIT_ASSERT_EQUAL(std::string("quit"), s.end);
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), h.store.opened_for);
    CPPUNIT_ASSERT_EQUAL(1, h.policy.successes);
    CPPUNIT_ASSERT_EQUAL(0, h.policy.failures);
  }

  void pass_may_contain_spaces() {
    SessionHarness h;
    h.users.passwords["bob"] = "two  words ";
    h.run({"USER bob\r\nPASS two  words \r\n"});
    CPPUNIT_ASSERT_EQUAL(kLoggedIn, h.after_greeting());
  }

  void unknown_user_and_bad_password_look_alike() {
    SessionHarness h;
    const SessionSummary s =
        h.run({"USER alice\r\nPASS wrong\r\nUSER nobody\r\nPASS wonderland\r\n" + kLogin});
    CPPUNIT_ASSERT_EQUAL("+OK\r\n" + kAuthFailed + "+OK\r\n" + kAuthFailed + kLoggedIn,
                         h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(2, h.policy.failures);
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), s.user);
  }

  void failures_wait_the_failure_delay() {
    for (const char* login : {"USER alice\r\nPASS wrong\r\n", "USER nobody\r\nPASS x\r\n",
                              "AUTH PLAIN AG5vYm9keQB4\r\n"}) {
      SessionHarness h;
      h.settings.auth.failure_delay = Millis(150);
      const auto start = std::chrono::steady_clock::now();
      h.run({login});
      const auto took = std::chrono::steady_clock::now() - start;
      CPPUNIT_ASSERT_MESSAGE(login, took >= Millis(150));
      CPPUNIT_ASSERT_EQUAL(1, h.policy.failures);
    }
  }

  void temporary_auth_failure() {
    SessionHarness h;
    h.run({"USER broken\r\nPASS x\r\n"});
    CPPUNIT_ASSERT_EQUAL(
        std::string(
            "+OK\r\n-ERR [SYS/TEMP] Temporary authentication failure, try again later.\r\n"),
        h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(0, h.policy.failures);
  }

  void pass_needs_user_right_before() {
    SessionHarness h;
    h.run({"PASS wonderland\r\nUSER alice\r\nCAPA\r\nPASS wonderland\r\n"});
    const std::string no_user = "-ERR No username given.\r\n";
    CPPUNIT_ASSERT_EQUAL(no_user + "+OK\r\n" + kCapaPlain + no_user, h.after_greeting());
    CPPUNIT_ASSERT(h.users.asked.empty());
  }

  void user_again_restarts() {
    SessionHarness h;
    const SessionSummary s = h.run({"USER nobody\r\n" + kLogin});
    CPPUNIT_ASSERT_EQUAL("+OK\r\n" + kLoggedIn, h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), s.user);
  }

  void apop_rfc1939_example() {
    SessionHarness h;
    h.users.apop = true;
    const std::string ts = "<1896.697170952@dbc.mtview.ca.us>";
    CPPUNIT_ASSERT_EQUAL(std::string("c4c9334bac560ecc979e58001b3e22fb"), md5_hex(ts + "tanstaaf"));
    const SessionSummary s =
        h.run_with_timestamp({"APOP mrose c4c9334bac560ecc979e58001b3e22fc\r\n"
                              "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"},
                             ts);
    CPPUNIT_ASSERT_EQUAL("+OK pop3d ready. " + ts + "\r\n" + kAuthFailed + "+OK Logged in.\r\n",
                         h.pipe->output);
    CPPUNIT_ASSERT_EQUAL(std::string("mrose"), s.user);
    CPPUNIT_ASSERT_EQUAL(1, h.policy.failures);
  }

  void apop_refused_when_not_offered() {
    SessionHarness h;
    h.run({"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("-ERR APOP is not available.\r\n"), h.after_greeting());
    CPPUNIT_ASSERT(h.users.asked.empty());
  }

  void auth_plain_with_initial_response() {
    SessionHarness h;
    const SessionSummary s = h.run({"AUTH plain " + plain("", "alice", "wonderland") + "\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+OK Logged in.\r\n"), h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), s.user);
  }

  void auth_plain_in_continuation() {
    SessionHarness h;
    const SessionSummary s =
        h.run({"AUTH PLAIN\r\n", plain("alice", "alice", "wonderland") + "\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+ \r\n+OK Logged in.\r\n"), h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), s.user);
  }

  void auth_plain_authzid_must_match() {
    SessionHarness h;
    const SessionSummary s = h.run({"AUTH PLAIN " + plain("root", "alice", "wonderland") + "\r\n"});
    CPPUNIT_ASSERT_EQUAL(
        std::string("-ERR [AUTH] Authorization identity must match authentication identity.\r\n"),
        h.after_greeting());
    CPPUNIT_ASSERT(s.user.empty());
    CPPUNIT_ASSERT(h.users.asked.empty());
  }

  void auth_login_in_continuation() {
    SessionHarness h;
    const SessionSummary s = h.run(
        {"AUTH LOGIN\r\n", base64_encode("alice") + "\r\n", base64_encode("wonderland") + "\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK Logged in.\r\n"),
                         h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), s.user);
  }

  void auth_login_with_initial_response() {
    SessionHarness h;
    const SessionSummary s = h.run(
        {"AUTH LOGIN " + base64_encode("alice") + "\r\n", base64_encode("wonderland") + "\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+ UGFzc3dvcmQ6\r\n+OK Logged in.\r\n"), h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), s.user);
  }

  void auth_cancel_and_bad_base64() {
    SessionHarness h;
    const SessionSummary s =
        h.run({"AUTH PLAIN\r\n", "*\r\n", "AUTH LOGIN\r\n", "@@@\r\n", "AUTH PLAIN !!!!\r\n",
               "AUTH LOGIN\r\n", base64_encode("alice") + "\r\n", "*\r\n", "CAPA\r\n"});
    const std::string bad64 = "-ERR Invalid base64 data in authentication response.\r\n";
    CPPUNIT_ASSERT_EQUAL("+ \r\n-ERR Authentication cancelled.\r\n+ VXNlcm5hbWU6\r\n" + bad64 +
                             bad64 +
                             "+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n-ERR Authentication "
                             "cancelled.\r\n" +
                             kCapaPlain,
                         h.after_greeting());
    CPPUNIT_ASSERT(s.user.empty());
  }

  void auth_wrong_password_and_unknown_mechanism() {
    SessionHarness h;
    h.run({"AUTH PLAIN " + plain("", "alice", "nope") + "\r\nAUTH CRAM-MD5\r\nAUTH X\r\n"});
    const std::string unsupported = "-ERR [AUTH] Unsupported authentication mechanism.\r\n";
    CPPUNIT_ASSERT_EQUAL(kAuthFailed + unsupported + unsupported, h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(1, h.policy.failures);
  }

  void bare_auth_lists_mechanisms() {
    SessionHarness h;
    h.run({"AUTH\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n"), h.after_greeting());
  }

  void sasl_lines_may_exceed_command_limit_up_to_their_own() {
    SessionHarness h;
    const std::string long_name(600, 'n');  // base64 line of ~800 octets
    h.users.passwords[long_name] = "pw";
    const SessionSummary s = h.run({"AUTH PLAIN\r\n", std::string(9000, 'A') + "\r\n",
                                    "AUTH PLAIN\r\n", plain("", long_name, "pw") + "\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+ \r\n-ERR [AUTH] Authentication response too long.\r\n"
                                     "+ \r\n-ERR [AUTH] Authentication failed.\r\n"),
                         h.after_greeting());
    CPPUNIT_ASSERT(s.user.empty());  // longer than kMaxUserName: refused, not looked up
    CPPUNIT_ASSERT(h.users.asked.empty());

    SessionHarness ok;
    const std::string name(100, 'm');
    ok.users.passwords[name] = std::string(400, 'p');
    const SessionSummary s2 =
        ok.run({"AUTH PLAIN\r\n", plain(name, name, std::string(400, 'p')) + "\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+ \r\n+OK Logged in.\r\n"), ok.after_greeting());
    CPPUNIT_ASSERT_EQUAL(name, s2.user);
  }

  void sasl_timeout_and_eof_end_session() {
    SessionHarness idle;
    idle.pipe->send("AUTH LOGIN\r\n");
    idle.pipe->timeout();
    const SessionSummary s1 = run_session(idle.ctx, std::make_unique<MemoryTransport>(idle.pipe));
    CPPUNIT_ASSERT_EQUAL(std::string("+ VXNlcm5hbWU6\r\n-ERR Disconnected for inactivity.\r\n"),
                         idle.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("timeout"), s1.end);

    SessionHarness gone;
    const SessionSummary s2 = gone.run({"AUTH LOGIN\r\n", base64_encode("alice") + "\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n"),
                         gone.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("disconnect"), s2.end);
    CPPUNIT_ASSERT(gone.users.asked.empty());
  }

  void maildrop_open_failures_keep_authorization() {
    const std::pair<OpenStatus, std::string> cases[] = {
        {OpenStatus::kInUse, "-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n"},
        {OpenStatus::kTempFail, "-ERR [SYS/TEMP] Unable to open the mailbox, try again later.\r\n"},
        {OpenStatus::kPermFail, "-ERR [SYS/PERM] Unable to open the mailbox.\r\n"},
    };
    for (const auto& [status, reply] : cases) {
      SessionHarness h;
      h.store.status = status;
      const SessionSummary s = h.run({kLogin + "STAT\r\n"});
      CPPUNIT_ASSERT_EQUAL("+OK\r\n" + reply + "-ERR Unknown command: STAT\r\n",
                           h.after_greeting());
      CPPUNIT_ASSERT(s.user.empty());
    }
  }

  void quit_before_login() {
    SessionHarness h;
    const SessionSummary s = h.run({"QUIT\r\nCAPA\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+OK Logging out.\r\n"), h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("quit"), s.end);
    CPPUNIT_ASSERT_EQUAL(0, h.store.record->commits);
  }

  void stls_discards_injected_commands() {
    SessionHarness h;
    h.ctx.tls = &h.tls;
    h.tls.pipe->send("PASS wonderland\r\nCAPA\r\nSTLS\r\nQUIT\r\n");
    const SessionSummary s = h.run({"STLS\r\nUSER alice\r\nPASS wonderland\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+OK Begin TLS negotiation.\r\n"), h.after_greeting());
    CPPUNIT_ASSERT_EQUAL("-ERR No username given.\r\n" + kCapaPlain +
                             "-ERR TLS is already active.\r\n+OK Logging out.\r\n",
                         h.tls.pipe->output);
    CPPUNIT_ASSERT_EQUAL(1, h.tls.upgrades);
    CPPUNIT_ASSERT(s.user.empty());
    CPPUNIT_ASSERT(h.users.asked.empty());
    CPPUNIT_ASSERT_EQUAL(std::string("quit"), s.end);
  }

  void stls_forgets_user() {
    SessionHarness h;
    h.settings.pop3.plaintext_auth = PlaintextAuth::kTlsOnly;
    h.ctx.tls = &h.tls;
    h.tls.pipe->send("PASS wonderland\r\n" + kLogin);
    const SessionSummary s = h.run({"STLS\r\n"});
    CPPUNIT_ASSERT_EQUAL("-ERR No username given.\r\n" + kLoggedIn, h.tls.pipe->output);
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), s.user);
  }

  void stls_handshake_failure_ends_session() {
    SessionHarness h;
    h.ctx.tls = &h.tls;
    h.tls.fail = true;
    const SessionSummary s = h.run({"STLS\r\nCAPA\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("+OK Begin TLS negotiation.\r\n"), h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("error: tls handshake"), s.end);
  }

  void stls_refused_when_not_offered() {
    SessionHarness none;
    none.run({"STLS\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("-ERR STLS is not available.\r\n"), none.after_greeting());

    SessionHarness disabled;
    disabled.ctx.tls = &disabled.tls;
    disabled.settings.pop3.explicit_ssl = false;
    disabled.run({"STLS\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("-ERR STLS is not available.\r\n"), disabled.after_greeting());

    SessionHarness on_tls;  // implicit TLS (port 995)
    on_tls.ctx.tls = &on_tls.tls;
    on_tls.run({"STLS\r\n"}, true);
    CPPUNIT_ASSERT_EQUAL(std::string("-ERR TLS is already active.\r\n"), on_tls.after_greeting());
    CPPUNIT_ASSERT_EQUAL(0, on_tls.tls.upgrades);

    SessionHarness logged_in;
    logged_in.ctx.tls = &logged_in.tls;
    logged_in.run({kLogin + "STLS\r\n"});
    CPPUNIT_ASSERT_EQUAL(kLoggedIn + "-ERR Unknown command: STLS\r\n", logged_in.after_greeting());
  }

  void blocked_client_is_disconnected() {
    SessionHarness h;
    h.policy.block_from_check = 2;
    const SessionSummary s = h.run({"CAPA\r\nUSER alice\r\nPASS wonderland\r\n"});
    CPPUNIT_ASSERT_EQUAL(
        kCapaPlain + "-ERR [SYS/TEMP] Access from your address is temporarily blocked.\r\n",
        h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("blocked"), s.end);
    CPPUNIT_ASSERT(h.users.asked.empty());
  }

  void login_timeout_is_total() {
    SessionHarness h;
    h.settings.pop3.login_timeout = Seconds(0);
    const SessionSummary s = h.run({"CAPA\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("-ERR Disconnected for inactivity.\r\n"), h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("timeout"), s.end);
    CPPUNIT_ASSERT_EQUAL(size_t{0}, h.pipe->reads);
  }

  void timeout_says_goodbye() {
    SessionHarness h;
    h.pipe->send("CAPA\r\n");
    h.pipe->timeout();
    const SessionSummary s = run_session(h.ctx, std::make_unique<MemoryTransport>(h.pipe));
    CPPUNIT_ASSERT_EQUAL(kCapaPlain + "-ERR Disconnected for inactivity.\r\n", h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("timeout"), s.end);
  }

  void twenty_bad_commands_end_session() {
    SessionHarness h;
    std::string input;
    for (int i = 0; i < 25; ++i) input += "XYZZY\r\n";
    const SessionSummary s = h.run({input});
    std::string expected;
    for (int i = 0; i < 20; ++i) expected += "-ERR Unknown command: XYZZY\r\n";
    expected += "-ERR Too many bad commands.\r\n";
    CPPUNIT_ASSERT_EQUAL(expected, h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("too many errors"), s.end);
  }

  void good_command_resets_bad_count() {
    SessionHarness h;
    std::string input;
    for (int i = 0; i < 19; ++i) input += "LIST x\r\n";
    input += "CAPA\r\n";
    for (int i = 0; i < 19; ++i) input += "\r\n";
    const SessionSummary s = h.run({input});
    CPPUNIT_ASSERT_EQUAL(std::string("disconnect"), s.end);
  }

  void long_line_and_nul_are_refused() {
    SessionHarness h;
    const SessionSummary s = h.run(
        {"USER " + std::string(300, 'a') + "\r\n", std::string("US\0ER alice\r\n", 13), kLogin});
    CPPUNIT_ASSERT_EQUAL(
        "-ERR Line too long.\r\n-ERR NUL bytes are not allowed in commands.\r\n" + kLoggedIn,
        h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), s.user);
  }

  void pipelined_commands_answered_in_order_with_one_write() {
    SessionHarness h;
    const SessionSummary s = h.run({kLogin + "STAT\r\nNOOP\r\nDELE 1\r\nLIST\r\nQUIT\r\n"});
    const uint64_t size2 = crlf_size(h.store.messages[1].content);
    const uint64_t total = crlf_size(h.store.messages[0].content) + size2;
    CPPUNIT_ASSERT_EQUAL(kLoggedIn + "+OK 2 " + std::to_string(total) +
                             "\r\n+OK\r\n+OK Marked to be deleted.\r\n+OK 1 messages (" +
                             std::to_string(size2) + " octets)\r\n2 " + std::to_string(size2) +
                             "\r\n.\r\n+OK Logging out.\r\n",
                         h.after_greeting());
    CPPUNIT_ASSERT_EQUAL(size_t{2}, h.pipe->writes);  // the greeting, then all the rest
    CPPUNIT_ASSERT_EQUAL(std::string("quit"), s.end);
  }

  void write_failure_ends_session() {
    SessionHarness h;
    h.pipe->write_status = IoStatus::kError;
    const SessionSummary s = h.run({"CAPA\r\n"});
    CPPUNIT_ASSERT_EQUAL(std::string("disconnect"), s.end);
    CPPUNIT_ASSERT_EQUAL(size_t{0}, h.pipe->reads);
  }

  void login_failure_log_lines_are_fail2ban_safe() {
    char path[] = "/tmp/pop3-session-log-XXXXXX";
    UniqueFd tmp(::mkstemp(path));
    CPPUNIT_ASSERT(tmp.valid());
    CPPUNIT_ASSERT(Logger::instance().configure(path, LogLevel::kInfo).ok());
    SessionHarness h;
    h.run({"USER ev>il\r\nPASS Secret-Pw-1\r\nAUTH PLAIN " +
           plain("", "ev>il, rip=203.0.113.9\x01", "Secret-Pw-2") + "\r\nAUTH PLAIN " +
           plain("r<o>ot", "alice", "Secret-Pw-3") + "\r\n"});
    (void)Logger::instance().configure("stderr", LogLevel::kInfo);
    std::string log;
    char buf[4096];
    for (ssize_t n; (n = ::read(tmp.get(), buf, sizeof buf)) > 0;) log.append(buf, n);
    ::unlink(path);
    // What etc/fail2ban/filter.d/pop3d.conf matches: the client cannot end
    // the user field early and put its own address after it.
    const std::regex line(R"(login failed: user=<[^>]*>, method=\S+, rip=192\.0\.2\.1, reason=.*)");
    size_t failures = 0;
    for (size_t pos = 0; (pos = log.find("login failed", pos)) != std::string::npos; ++pos) {
      const std::string one = log.substr(pos, log.find('\n', pos) - pos);
      CPPUNIT_ASSERT_MESSAGE(one, std::regex_match(one, line));
      ++failures;
    }
    CPPUNIT_ASSERT_EQUAL(size_t{3}, failures);
    CPPUNIT_ASSERT_MESSAGE(log, log.find("user=<ev\\x3eil>") != std::string::npos);
    CPPUNIT_ASSERT_MESSAGE(log,
                           log.find("user=<ev\\x3eil, rip=203.0.113.9\\x01>") != std::string::npos);
    CPPUNIT_ASSERT_MESSAGE(log, log.find("identity <r\\x3co\\x3eot>") != std::string::npos);
    CPPUNIT_ASSERT(log.find("Secret-Pw") == std::string::npos);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SessionAuthTest);

}  // namespace pop3d
