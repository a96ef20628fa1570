// Message files that are not the size the session listed (a wrong ",W=" in
// the name, a file rewritten in place): RETR and TOP send the file as it is
// to its end, framed correctly; the maildrop is told what the file turned
// out to be; and a message the client got less of than LIST promised is
// never removed at QUIT, whatever DELE said.
#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pop3/message_encoder.hpp"
#include "pop3/session.hpp"
#include "session_fakes.hpp"

namespace pop3d {

namespace {

// One message of the lying store: the size it lists, and the file's content
// at each open (the last one repeats), so a test can rewrite it between two
// RETRs of one session.
struct LyingMessage {
  uint64_t listed = 0;
  bool plain = false;
  std::vector<std::string> versions;
};

// What the session told the maildrop.
struct LyingRecord {
  struct Correction {
    size_t index;
    std::optional<FileMeasure> measured;
  };
  std::vector<Correction> corrections;
  int commits = 0;
  std::vector<bool> committed;
};

class LyingMaildrop : public Maildrop {
 public:
  LyingMaildrop(std::vector<LyingMessage> messages, std::shared_ptr<LyingRecord> record)
      : messages_(std::move(messages)), opens_(messages_.size(), 0), record_(std::move(record)) {
    for (size_t i = 0; i < messages_.size(); ++i)
      infos_.push_back({messages_[i].listed, "uid-" + std::to_string(i + 1), messages_[i].plain});
  }

  size_t count() const override { return messages_.size(); }
  const MessageInfo& info(size_t index) const override { return infos_.at(index); }

  Result<UniqueFd> open_message(size_t index) override {
    const std::vector<std::string>& v = messages_.at(index).versions;
    const std::string& content = v.at(std::min(opens_[index]++, v.size() - 1));
    UniqueFd fd(::memfd_create("message", MFD_CLOEXEC));
    if (!fd) return Error::from_errno("memfd_create");
    if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
      return Error::from_errno("write");
    ::lseek(fd.get(), 0, SEEK_SET);
    return fd;
  }

  void correct_size(size_t index, std::optional<FileMeasure> measured) override {
    record_->corrections.push_back({index, measured});
  }

  Result<CommitStats> commit(const std::vector<bool>& deleted) override {
    ++record_->commits;
    record_->committed = deleted;
    CommitStats stats;
    for (bool d : deleted) stats.deleted += d ? 1 : 0;
    return stats;
  }

 private:
  std::vector<LyingMessage> messages_;
  std::vector<size_t> opens_;
  std::vector<MessageInfo> infos_;
  std::shared_ptr<LyingRecord> record_;
};

class LyingStore : public MailStore {
 public:
  std::vector<LyingMessage> messages;
  std::shared_ptr<LyingRecord> record = std::make_shared<LyingRecord>();

  OpenOutcome open(const UserRecord&) override {
    OpenOutcome out;
    out.status = OpenStatus::kOk;
    out.maildrop = std::make_unique<LyingMaildrop>(messages, record);
    return out;
  }
};

struct LyingSession {
  Settings settings;
  FakeUserDb users;
  LyingStore store;
  FakePolicy policy;
  std::shared_ptr<MemoryPipe> pipe = std::make_shared<MemoryPipe>();
  // Designated, and the fields not named keep their defaults: this test is
  // about none of them, and a field added later must not break it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
  SessionContext ctx{.settings = settings,
                     .users = users,
                     .store = store,
                     .policy = policy,
                     .client_address = "192.0.2.1",
                     .hostname = "mail.example.org"};
#pragma GCC diagnostic pop

  LyingSession() {
    settings.auth.failure_delay = Millis(0);
    settings.pop3.plaintext_auth = PlaintextAuth::kAllow;
  }

  SessionSummary run(const std::string& commands) {
    pipe->send("USER alice\r\nPASS wonderland\r\n" + commands);
    return run_session(ctx, std::make_unique<MemoryTransport>(pipe));
  }

  // The transcript after the greeting and the two login replies.
  std::string after_login() const {
    const std::string head = "+OK pop3d ready.\r\n+OK\r\n+OK Logged in.\r\n";
    CPPUNIT_ASSERT_MESSAGE(pipe->output, pipe->output.compare(0, head.size(), head) == 0);
    return pipe->output.substr(head.size());
  }
};

// A message file, its wire form and its size on the wire, built together
// line by line from what each line is (LF line ends, every seventh line
// starting with "."), so no expectation comes from the rule under test.
struct Built {
  std::string file, wire;
  uint64_t size = 0;
};

Built lf_message(size_t at_least) {
  Built b;
  for (int i = 0; b.file.size() < at_least; ++i) {
    const std::string text = (i % 7 == 3 ? ".line " : "line ") + std::to_string(i);
    b.file += text + "\n";
    b.wire += (i % 7 == 3 ? "." : "") + text + "\r\n";
    b.size += text.size() + 2;
  }
  return b;
}

// CRLF lines, no line starting with ".": the file is its own wire form.
std::string crlf_message(size_t at_least) {
  std::string s;
  for (int i = 0; s.size() < at_least; ++i) s += "Line " + std::to_string(i) + " of it.\r\n";
  return s;
}

}  // namespace

class RetrSizeTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(RetrSizeTest);
  CPPUNIT_TEST(file_longer_than_listed_is_sent_whole);
  CPPUNIT_TEST(file_shorter_than_listed_is_sent_and_kept_at_quit);
  CPPUNIT_TEST(truthful_sizes_delete_as_before);
  CPPUNIT_TEST(a_later_whole_retr_lets_dele_stand);
  CPPUNIT_TEST(a_later_short_retr_keeps_the_message);
  CPPUNIT_TEST(plain_file_that_grew_skips_sendfile_and_is_framed);
  CPPUNIT_TEST(plain_file_of_listed_size_still_goes_by_sendfile);
  CPPUNIT_TEST(top_reads_past_a_too_small_listing);
  CPPUNIT_TEST(top_of_whole_file_measures_it);
  CPPUNIT_TEST(encoder_tells_whether_the_file_went_out_unchanged);
  CPPUNIT_TEST_SUITE_END();

 public:
  void file_longer_than_listed_is_sent_whole() {
    LyingSession s;
    // Larger than the 128 KiB the session reads at a time, so stopping at
    // the listed size would show as a cut after the first chunk.
    const Built b = lf_message(300 * 1024);
    s.store.messages = {{.listed = 10, .versions = {b.file}}};
    const SessionSummary sum = s.run("RETR 1\r\nDELE 1\r\nQUIT\r\n");
    // The "+OK" says what LIST said (the client saw that); what follows
    // is the whole file, then one terminating ".".
    CPPUNIT_ASSERT(s.after_login() == "+OK 10 octets\r\n" + b.wire +
                                          ".\r\n+OK Marked to be deleted.\r\n+OK Logging out.\r\n");
    CPPUNIT_ASSERT_EQUAL(b.size, sum.retrieved_bytes);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, s.store.record->corrections.size());
    const auto& c = s.store.record->corrections[0];
    CPPUNIT_ASSERT_EQUAL(size_t{0}, c.index);
    CPPUNIT_ASSERT(c.measured.has_value());
    CPPUNIT_ASSERT_EQUAL(b.size, c.measured->size);
    CPPUNIT_ASSERT(!c.measured->plain_sendable);  // bare LFs and dot lines
    // The client has all of it: the DELE stands.
    CPPUNIT_ASSERT(s.store.record->committed == std::vector<bool>({true}));
  }

  void file_shorter_than_listed_is_sent_and_kept_at_quit() {
    LyingSession s;
    // "Subject: x" 10+2, "" 2, "short" 5+2: 21 octets, listed as 5000.
    const std::string file = "Subject: x\r\n\r\nshort\r\n";
    s.store.messages = {{.listed = 5000, .versions = {file}},
                        {.listed = 4, .versions = {"ok\r\n"}}};
    const SessionSummary sum = s.run("RETR 1\r\nDELE 1\r\nRETR 2\r\nDELE 2\r\nQUIT\r\n");
    CPPUNIT_ASSERT_EQUAL(
        std::string("+OK 5000 octets\r\n" + file +
                    ".\r\n+OK Marked to be deleted.\r\n"
                    "+OK 4 octets\r\nok\r\n.\r\n+OK Marked to be deleted.\r\n"
                    "-ERR Some deleted messages not removed: 1 not sent whole.\r\n"),
        s.after_login());
    CPPUNIT_ASSERT_EQUAL(1, s.store.record->commits);
    // Message 1 stays on disk; message 2, sent whole, goes.
    CPPUNIT_ASSERT(s.store.record->committed == std::vector<bool>({false, true}));
    CPPUNIT_ASSERT_EQUAL(std::string("quit"), sum.end);
    CPPUNIT_ASSERT_EQUAL(uint64_t{21 + 4}, sum.retrieved_bytes);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, s.store.record->corrections.size());
    CPPUNIT_ASSERT(s.store.record->corrections[0].measured.has_value());
    CPPUNIT_ASSERT_EQUAL(uint64_t{21}, s.store.record->corrections[0].measured->size);
    CPPUNIT_ASSERT(s.store.record->corrections[0].measured->plain_sendable);
  }

  void truthful_sizes_delete_as_before() {
    LyingSession s;
    // "a" 1+2 and "b" 1+2, LF ends: 6 octets.
    s.store.messages = {{.listed = 6, .versions = {"a\nb\n"}}};
    s.run("RETR 1\r\nTOP 1 0\r\nDELE 1\r\nQUIT\r\n");
    CPPUNIT_ASSERT_EQUAL(std::string("+OK 6 octets\r\na\r\nb\r\n.\r\n+OK\r\na\r\nb\r\n.\r\n"
                                     "+OK Marked to be deleted.\r\n+OK Logging out.\r\n"),
                         s.after_login());
    CPPUNIT_ASSERT(s.store.record->corrections.empty());
    CPPUNIT_ASSERT(s.store.record->committed == std::vector<bool>({true}));
  }

  void a_later_whole_retr_lets_dele_stand() {
    LyingSession s;
    // "hello" 5+2 and "yo" 2+2: 11 octets; the first version has only 7.
    s.store.messages = {{.listed = 11, .versions = {"hello\r\n", "hello\r\nyo\r\n"}}};
    s.run("RETR 1\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
    CPPUNIT_ASSERT_EQUAL(std::string("+OK 11 octets\r\nhello\r\n.\r\n"
                                     "+OK 11 octets\r\nhello\r\nyo\r\n.\r\n"
                                     "+OK Marked to be deleted.\r\n+OK Logging out.\r\n"),
                         s.after_login());
    // The second RETR gave the client all it was promised.
    CPPUNIT_ASSERT(s.store.record->committed == std::vector<bool>({true}));
  }

  void a_later_short_retr_keeps_the_message() {
    LyingSession s;
    s.store.messages = {{.listed = 11, .versions = {"hello\r\nyo\r\n", "hello\r\n"}}};
    s.run("RETR 1\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
    CPPUNIT_ASSERT_EQUAL(
        std::string("+OK 11 octets\r\nhello\r\nyo\r\n.\r\n"
                    "+OK 11 octets\r\nhello\r\n.\r\n"
                    "+OK Marked to be deleted.\r\n"
                    "-ERR Some deleted messages not removed: 1 not sent whole.\r\n"),
        s.after_login());
    CPPUNIT_ASSERT(s.store.record->committed == std::vector<bool>({false}));
  }

  void plain_file_that_grew_skips_sendfile_and_is_framed() {
    LyingSession s;
    s.pipe->sendfile = true;
    const std::string listed_part = crlf_message(100 * 1024);
    // Appended since it was measured: a dot line and a last line without
    // newline, which sendfile would pass raw (a ".\r\n" would end the reply
    // early and the rest would run as commands).
    const std::string file = listed_part + ".\r\nmore\nend";
    s.store.messages = {{.listed = listed_part.size(), .plain = true, .versions = {file}}};
    s.run("RETR 1\r\nQUIT\r\n");
    // ".": 1+2; "more": 4+2 (its LF as CRLF); "end": 3, +2 for the CRLF added.
    const uint64_t true_size = listed_part.size() + 3 + 6 + 5;
    CPPUNIT_ASSERT(s.after_login() == "+OK " + std::to_string(listed_part.size()) + " octets\r\n" +
                                          listed_part + "..\r\nmore\r\nend\r\n.\r\n" +
                                          "+OK Logging out.\r\n");
    CPPUNIT_ASSERT_EQUAL(size_t{0}, s.pipe->sendfiles);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, s.store.record->corrections.size());
    CPPUNIT_ASSERT_EQUAL(true_size, s.store.record->corrections[0].measured->size);
    CPPUNIT_ASSERT(!s.store.record->corrections[0].measured->plain_sendable);
  }

  void plain_file_of_listed_size_still_goes_by_sendfile() {
    LyingSession s;
    s.pipe->sendfile = true;
    const std::string file = crlf_message(100 * 1024);
    s.store.messages = {{.listed = file.size(), .plain = true, .versions = {file}}};
    const SessionSummary sum = s.run("RETR 1\r\nDELE 1\r\nQUIT\r\n");
    CPPUNIT_ASSERT(s.after_login() == "+OK " + std::to_string(file.size()) + " octets\r\n" + file +
                                          ".\r\n+OK Marked to be deleted.\r\n+OK Logging out.\r\n");
    CPPUNIT_ASSERT_EQUAL(size_t{1}, s.pipe->sendfiles);
    CPPUNIT_ASSERT_EQUAL(uint64_t{file.size()}, sum.retrieved_bytes);
    CPPUNIT_ASSERT(s.store.record->corrections.empty());
    CPPUNIT_ASSERT(s.store.record->committed == std::vector<bool>({true}));
  }

  void top_reads_past_a_too_small_listing() {
    LyingSession s;
    // A header line longer than the 128 KiB the session reads at a time:
    // stopping at the listed 5 octets would cut it after the first chunk.
    const std::string header = "X-Long: " + std::string(200 * 1024, 'h');
    s.store.messages = {
        {.listed = 5, .versions = {"Subject: t\n" + header + "\n\none\ntwo\nthree\n"}}};
    const SessionSummary sum = s.run("TOP 1 1\r\nDELE 1\r\nQUIT\r\n");
    CPPUNIT_ASSERT(s.after_login() == "+OK\r\nSubject: t\r\n" + header +
                                          "\r\n\r\none\r\n.\r\n"
                                          "+OK Marked to be deleted.\r\n+OK Logging out.\r\n");
    // Only that the listing is too small is known; the store measures.
    CPPUNIT_ASSERT_EQUAL(size_t{1}, s.store.record->corrections.size());
    CPPUNIT_ASSERT(!s.store.record->corrections[0].measured.has_value());
    // TOP is no retrieval: it neither counts nor protects from DELE.
    CPPUNIT_ASSERT_EQUAL(0u, sum.retrieved);
    CPPUNIT_ASSERT(s.store.record->committed == std::vector<bool>({true}));
  }

  void top_of_whole_file_measures_it() {
    LyingSession s;
    // "S: t" 4+2, "" 2, "b" 1+2: 11 octets, all of it within TOP 1 5.
    s.store.messages = {{.listed = 900, .versions = {"S: t\r\n\r\nb\r\n"}}};
    s.run("TOP 1 5\r\nQUIT\r\n");
    CPPUNIT_ASSERT_EQUAL(std::string("+OK\r\nS: t\r\n\r\nb\r\n.\r\n+OK Logging out.\r\n"),
                         s.after_login());
    CPPUNIT_ASSERT_EQUAL(size_t{1}, s.store.record->corrections.size());
    CPPUNIT_ASSERT(s.store.record->corrections[0].measured.has_value());
    CPPUNIT_ASSERT_EQUAL(uint64_t{11}, s.store.record->corrections[0].measured->size);
    CPPUNIT_ASSERT(s.store.record->corrections[0].measured->plain_sendable);
  }

  void encoder_tells_whether_the_file_went_out_unchanged() {
    struct Case {
      const char* file;
      bool unchanged;
    };
    const Case cases[] = {
        {"", true},              // nothing to change
        {"a\r\nb\r\n", true},    // CRLF, no dot lines
        {"a\r\nb\n", false},     // a CR added
        {"a\r\n.b\r\n", false},  // a dot stuffed
        {"a\r\nb", false},       // CRLF added at the end
        {"a\r\nb\r", false},     // ends in a lone CR: CRLF added
        {"x.\r\n\r\n", true},    // a dot not at a line start
    };
    for (const Case& c : cases) {
      // Fed one byte at a time too: the answer must not depend on chunks.
      for (size_t chunk : {size_t{1}, size_t{1000}}) {
        MessageEncoder e;
        std::string out;
        const std::string file = c.file;
        for (size_t i = 0; i < file.size(); i += chunk) e.encode(file.substr(i, chunk), out);
        e.finish(out);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(std::string("file: ") + c.file, c.unchanged, e.unchanged());
      }
    }
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RetrSizeTest);

}  // namespace pop3d
