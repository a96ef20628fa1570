// Fuzz target: a real POP3 session over the real MaildirStore. fuzz_session
// drives the state machine against a fake maildrop; this one lets the
// client's bytes reach the Maildir code that lists, measures, streams,
// deletes and moves files, so what they do to the disk can be checked.
//
// The input is exactly what the client sends (one packet). The Maildir
// lives in a temporary directory made once per process and is rebuilt
// before every input from hard links to a template, with its index and
// lock removed, so every input starts from the same five messages (bare
// LF, CRLF with a ",W=" size, lines starting with ".", no final newline, an
// empty file, one large enough to go out by sendfile); QUIT really deletes
// and moves files.
//
// After each input the transcript is checked in step with the input's
// lines (every reply answers one line, as the session reads them): each
// line ends in CRLF and is a status line, or part of a multi-line reply
// whose dot-stuffing undoes to the expected bytes and that ends in ".";
// commands that must succeed did, and what is deleted or out of range is
// refused. Then the disk: nothing is gone unless a QUIT after login said
// +OK, then exactly the DELEd messages are, the rest sit in cur/ with the
// same bytes, and nothing else was left behind.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../pop3/session_fakes.hpp"
#include "fuzz_common.hpp"
#include "mailstore/maildir_flags.hpp"
#include "mailstore/maildir_store.hpp"
#include "pop3/pop3_session.hpp"

using namespace pop3d;

namespace {

constexpr std::string_view kTimestamp = "<1896.697170952@dbc.mtview.ca.us>";
// The session's own limits (src/pop3/limits.hpp), restated so that the
// checker below does not take them from the code it checks.
constexpr size_t kCommandLine = 255;
constexpr size_t kSaslLine = 8 * 1024;
constexpr uint64_t kMaxMessageNumber = 4'000'000'000ULL;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_session_maildir: invariant broken: %s\n", what.c_str());
  std::abort();
}

struct TemplateMessage {
  std::string base;     // file name without the ":2,..." info
  std::string info;     // ":2,S" in cur/, "" in new/
  bool in_new = false;  // delivered to new/: moved to cur/ at QUIT
  std::string content;
};

// What RETR sends, before dot-stuffing: bare LF as CRLF, and a CRLF after
// a last line that has none (RFC 1939 3; mail_store.hpp MessageInfo::size).
std::string wire_form(std::string_view content) {
  std::string out;
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] == '\n' && (i == 0 || content[i - 1] != '\r')) out.push_back('\r');
    out.push_back(content[i]);
  }
  if (!content.empty() && content.back() != '\n') out += "\r\n";
  return out;
}

// What TOP n k sends, before dot-stuffing: the header, the blank line after
// it and then k lines of the body (RFC 1939 7).
std::string top_form(std::string_view content, uint64_t body_lines) {
  const std::string wire = wire_form(content);
  std::string out;
  bool in_header = true;
  uint64_t body = 0;
  size_t start = 0;
  while (start < wire.size()) {
    const size_t end = wire.find("\r\n", start) + 2;
    if (!in_header && body >= body_lines) break;
    const bool blank = end - start == 2;
    out.append(wire, start, end - start);
    if (in_header) {
      if (blank) in_header = false;
    } else {
      ++body;
    }
    start = end;
  }
  return out;
}

std::vector<TemplateMessage> make_messages() {
  std::vector<TemplateMessage> m;
  m.push_back({"1000000001.M1P1.fuzz", ":2,S", false,
               "From: a@example.org\nSubject: one\n\nHello\n.hidden dot\n..two dots\n.\nbye\n"});
  const std::string two = "Subject: two\r\n\r\nsecond body\r\n+OK not a reply\r\n-ERR nor this\r\n";
  m.push_back(
      {"1000000002.M2P1.fuzz,W=" + std::to_string(wire_form(two).size()), ":2,", false, two});
  m.push_back(
      {"1000000003.M3P1.fuzz", "", true, "Subject: three\n\nbare\rcr\r\n\r\r\nno newline at end"});
  m.push_back({"1000000004.M4P1.fuzz", "", true, ""});
  // Plain CRLF and over pop3_limits::kSendfileMinBytes: RETR uses send_file.
  std::string big = "Subject: big\r\n\r\n";
  for (int i = 0; big.size() < 70 * 1024; ++i)
    big += "line " + std::to_string(i) + " of a message long enough for sendfile\r\n";
  m.push_back({"1000000005.M5P1.fuzz", ":2,", false, big});
  return m;
}

// The messages in the order the store must number them (delivery time).
const std::vector<TemplateMessage>& messages() {
  static const std::vector<TemplateMessage> m = make_messages();
  return m;
}

void write_file(const std::string& path, std::string_view content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd ||
      ::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
    fail("cannot write " + path);
}

std::optional<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return std::nullopt;
  std::string out;
  char buf[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) fail("cannot read " + path);
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

std::set<std::string> list_dir(const std::string& path) {
  std::set<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) fail("cannot list " + path);
  while (const dirent* e = ::readdir(dir)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.insert(n);
  }
  ::closedir(dir);
  return names;
}

// The temporary tree, made on the first input and removed at exit:
// <root>/template/<n> (the messages' bytes), <root>/maildir/{cur,new,tmp}.
class Scratch {
 public:
  Scratch() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/pop3d-fuzz-maildir.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp " + pattern);
    root_ = pattern;
    for (const char* d : {"/template", "/maildir", "/maildir/cur", "/maildir/new", "/maildir/tmp"})
      if (::mkdir((root_ + d).c_str(), 0700) != 0) fail(std::string("mkdir ") + d);
    for (size_t i = 0; i < messages().size(); ++i)
      write_file(template_path(i), messages()[i].content);
  }
  ~Scratch() {
    clear();
    for (size_t i = 0; i < messages().size(); ++i) ::unlink(template_path(i).c_str());
    for (const char* d :
         {"/maildir/cur", "/maildir/new", "/maildir/tmp", "/maildir", "/template", ""})
      ::rmdir((root_ + d).c_str());
  }

  std::string maildir() const { return root_ + "/maildir"; }
  std::string template_path(size_t i) const { return root_ + "/template/" + std::to_string(i); }
  std::string original_path(size_t i) const {
    const TemplateMessage& m = messages()[i];
    return maildir() + (m.in_new ? "/new/" : "/cur/") + m.base + m.info;
  }

  // Back to the starting state: the five messages where they were
  // delivered, no index, no lock, nothing in tmp/.
  void reset() {
    clear();
    for (size_t i = 0; i < messages().size(); ++i)
      if (::link(template_path(i).c_str(), original_path(i).c_str()) != 0)
        fail("link " + original_path(i));
  }

 private:
  void clear() {
    for (const char* d : {"", "/cur", "/new", "/tmp"}) {
      const std::string dir = maildir() + d;
      for (const std::string& n : list_dir(dir)) {
        const std::string path = dir + "/" + n;
        if (::unlink(path.c_str()) != 0 && *d != '\0') fail("unlink " + path);
      }
    }
  }
  std::string root_;
};

Scratch& scratch() {
  static Scratch s;
  return s;
}

// The fake user database, with every account's mail in the scratch Maildir.
class ScratchUsers : public UserDb {
 public:
  explicit ScratchUsers(std::string maildir) : maildir_(std::move(maildir)) { fake_.apop = true; }
  AuthOutcome authenticate(std::string_view user, std::string_view password) override {
    return with_maildir(fake_.authenticate(user, password));
  }
  AuthOutcome authenticate_apop(std::string_view user, std::string_view timestamp,
                                std::string_view digest) override {
    return with_maildir(fake_.authenticate_apop(user, timestamp, digest));
  }
  bool apop_available() override { return fake_.apop_available(); }
  const std::map<std::string, std::string>& passwords() const { return fake_.passwords; }

 private:
  AuthOutcome with_maildir(AuthOutcome out) {
    if (out.status == AuthStatus::kOk) out.user.maildir = maildir_;
    return out;
  }
  FakeUserDb fake_;
  std::string maildir_;
};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::optional<uint64_t> number(std::string_view s, uint64_t max) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// The client's lines as the session reads them: up to LF, a CR before it
// dropped; over the limit (counting a CRLF) is refused as a whole.
class InputLines {
 public:
  explicit InputLines(std::string_view in) : in_(in) {}
  enum class Kind { kLine, kTooLong, kEnd };
  Kind next(size_t max, std::string_view& line) {
    const size_t nl = in_.find('\n', pos_);
    if (nl == std::string_view::npos) return Kind::kEnd;
    line = in_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line.size() + 2 > max ? Kind::kTooLong : Kind::kLine;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

// Checks the transcript against the input; fills in what the session did.
class TranscriptChecker {
 public:
  TranscriptChecker(std::string_view input, std::string_view output,
                    const std::map<std::string, std::string>& passwords)
      : input_(input), passwords_(passwords) {
    size_t start = 0;
    while (start < output.size()) {
      const size_t nl = output.find('\n', start);
      if (nl == std::string_view::npos) fail("output does not end in CRLF");
      if (nl == start || output[nl - 1] != '\r') fail("bare LF in the output");
      out_.push_back(output.substr(start, nl - 1 - start));
      start = nl + 1;
    }
  }

  void run() {
    if (out_.empty() || out_[0] != "+OK pop3d ready. " + std::string(kTimestamp))
      fail("no greeting");
    size_t i = 1;
    bool continuation = false;  // the last reply was "+ ": a SASL answer follows
    while (i < out_.size()) {
      const std::string_view status = out_[i++];
      if (ended_) fail("a reply after the session's last one");
      const bool ok = status == "+OK" || status.starts_with("+OK ");
      const bool err = status.starts_with("-ERR ");
      const bool cont = status.starts_with("+ ");
      if (!ok && !err && !cont) fail("not a status line: " + std::string(status));
      // Replies that answer no line: the session ends after them.
      if (status == "-ERR Too many bad commands." ||
          status == "-ERR Disconnected for inactivity.") {
        ended_ = true;
        continue;
      }
      std::string_view line;
      const InputLines::Kind kind = lines_.next(continuation ? kSaslLine : kCommandLine, line);
      if (kind == InputLines::Kind::kEnd) fail("a reply to no command: " + std::string(status));
      const bool sasl_answer = continuation;
      continuation = cont;
      if (kind == InputLines::Kind::kTooLong) {
        if (!err) fail("an over-long line was not refused");
        pending_user_.reset();
        continue;
      }
      if (sasl_answer) {
        if (ok) login(status);
        continue;
      }
      const std::optional<std::string> user = std::exchange(pending_user_, std::nullopt);
      if (line.find('\0') != std::string_view::npos) {
        if (!err) fail("a line with NUL was not refused");
        continue;
      }
      const size_t space = line.find(' ');
      const std::string keyword = upper(line.substr(0, space));
      std::vector<std::string_view> args;
      bool well_formed = !keyword.empty() && keyword.find_first_not_of(
                                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos;
      if (space != std::string_view::npos) {
        std::string_view rest = line.substr(space + 1);
        for (size_t sp; (sp = rest.find(' ')) != std::string_view::npos; rest.remove_prefix(sp + 1))
          args.push_back(rest.substr(0, sp));
        args.push_back(rest);
        for (std::string_view a : args)
          if (a.empty()) well_formed = false;
      }
      if (cont && (keyword != "AUTH" || transaction_)) fail("a SASL challenge for " + keyword);
      if (transaction_) {
        transaction(status, ok, well_formed, keyword, args, i);
      } else {
        authorization(status, ok, well_formed, keyword, args, line, user, i);
      }
    }
  }

  bool committed() const { return committed_; }
  bool ended_by_quit() const { return quit_; }
  const std::array<bool, 5>& deleted() const { return deleted_; }
  unsigned retrieved() const { return retrieved_; }
  // The messages RETRieved since login or the last RSET: seen at QUIT.
  const std::array<bool, 5>& read() const { return read_; }

 private:
  // The body of a multi-line reply, dot-stuffing undone, from out_[i] on.
  std::string body(size_t& i) {
    std::string text;
    for (;;) {
      if (i >= out_.size()) fail("a multi-line reply without its final \".\"");
      const std::string_view l = out_[i++];
      if (l == ".") return text;
      if (!l.empty() && l[0] == '.') {
        if (l.size() < 2 || l[1] != '.') fail("a body line starting with \".\" not stuffed");
        text.append(l.substr(1));
      } else {
        text.append(l);
      }
      text += "\r\n";
    }
  }

  // The message number in `arg` (0-based), when it names a message that
  // is there and not deleted.
  std::optional<size_t> live_message(std::string_view arg) const {
    const std::optional<uint64_t> n = number(arg, kMaxMessageNumber);
    if (!n || *n == 0 || *n > messages().size() || deleted_[*n - 1]) return std::nullopt;
    return static_cast<size_t>(*n - 1);
  }

  uint64_t listed(size_t i) const { return wire_form(messages()[i].content).size(); }

  void login(std::string_view status) {
    if (status != "+OK Logged in.") fail("an unexpected login reply: " + std::string(status));
    transaction_ = true;
  }

  void check_uidl(size_t index, std::string_view uidl) {
    if (uidl.empty() || uidl.size() > 70) fail("a UIDL of bad length");
    for (char c : uidl)
      if (c < 0x21 || c > 0x7e) fail("a UIDL with a bad octet");
    // Across every session of this process: RFC 1939 7 wants them stable.
    static std::array<std::string, 5> seen;
    if (seen[index].empty()) seen[index] = uidl;
    if (seen[index] != uidl) fail("a UIDL changed between sessions");
  }

  void authorization(std::string_view status, bool ok, bool well_formed, const std::string& keyword,
                     const std::vector<std::string_view>& args, std::string_view line,
                     const std::optional<std::string>& user, size_t& i) {
    if (!ok) {
      // Plaintext logins are allowed (PlaintextAuth::kAllow) and the store
      // is sane: the known password of the user just named must work.
      const std::optional<std::string> password = user ? password_of(*user) : std::nullopt;
      if (keyword == "PASS" && password && space_rest(line) == *password)
        fail("a good USER/PASS was refused: " + std::string(status));
      return;
    }
    if (!well_formed && keyword != "PASS") fail("+OK to a malformed line");
    if (keyword == "USER") {
      if (args.size() != 1) fail("+OK to USER with " + std::to_string(args.size()) + " arguments");
      pending_user_ = std::string(args[0]);
    } else if (keyword == "PASS" || keyword == "APOP") {
      login(status);
    } else if (keyword == "AUTH") {
      if (args.empty()) {
        if (body(i) != "PLAIN\r\nLOGIN\r\n") fail("AUTH listed the wrong mechanisms");
      } else if (!status.starts_with("+ ")) {
        login(status);
      }
    } else if (keyword == "CAPA") {
      (void)body(i);
    } else if (keyword == "QUIT") {
      quit(status);
    } else {
      fail("+OK to " + keyword + " before login");
    }
  }

  void transaction(std::string_view status, bool ok, bool well_formed, const std::string& keyword,
                   const std::vector<std::string_view>& args, size_t& i) {
    const size_t n = args.size();
    std::optional<size_t> msg;
    if (well_formed && n >= 1) msg = live_message(args[0]);
    const bool nothing = well_formed && n == 0;
    // Whether the command must succeed, and whether it must fail.
    bool must_ok = false;
    if (keyword == "STAT" || keyword == "NOOP" || keyword == "RSET" || keyword == "QUIT" ||
        keyword == "CAPA") {
      must_ok = nothing;
    } else if (keyword == "LIST" || keyword == "UIDL") {
      must_ok = nothing || (well_formed && n == 1 && msg);
    } else if (keyword == "RETR" || keyword == "DELE") {
      must_ok = well_formed && n == 1 && msg;
    } else if (keyword == "TOP") {
      must_ok = well_formed && n == 2 && msg && number(args[1], UINT64_MAX);
    }
    if (must_ok && !ok) fail(keyword + " was refused: " + std::string(status));
    if (!must_ok && ok) fail(keyword + " succeeded where it must not");
    if (!ok) return;

    const std::string text(status.size() > 4 ? status.substr(4) : std::string_view());
    if (keyword == "STAT") {
      size_t count = 0;
      uint64_t octets = 0;
      for (size_t m = 0; m < messages().size(); ++m)
        if (!deleted_[m]) ++count, octets += listed(m);
      if (text != std::to_string(count) + " " + std::to_string(octets)) fail("STAT: " + text);
    } else if ((keyword == "LIST" || keyword == "UIDL") && n == 1) {
      const std::string prefix = std::to_string(*msg + 1) + " ";
      if (!text.starts_with(prefix)) fail(keyword + " named another message: " + text);
      if (keyword == "LIST" && text != prefix + std::to_string(listed(*msg)))
        fail("LIST n: " + text);
      if (keyword == "UIDL") check_uidl(*msg, std::string_view(text).substr(prefix.size()));
    } else if (keyword == "LIST" || keyword == "UIDL") {
      const std::string got = body(i);
      std::string want;
      size_t pos = 0;
      for (size_t m = 0; m < messages().size(); ++m) {
        if (deleted_[m]) continue;
        const std::string prefix = std::to_string(m + 1) + " ";
        if (keyword == "LIST") {
          want += prefix + std::to_string(listed(m)) + "\r\n";
          continue;
        }
        const size_t eol = got.find("\r\n", pos);
        if (eol == std::string::npos || got.compare(pos, prefix.size(), prefix) != 0)
          fail("UIDL listing: " + got);
        check_uidl(m, std::string_view(got).substr(pos + prefix.size(), eol - pos - prefix.size()));
        pos = eol + 2;
      }
      if (keyword == "LIST" ? got != want : pos != got.size()) fail(keyword + " listing: " + got);
    } else if (keyword == "RETR") {
      if (text != std::to_string(listed(*msg)) + " octets") fail("RETR: " + text);
      if (body(i) != wire_form(messages()[*msg].content)) fail("RETR sent other bytes");
      ++retrieved_;
      read_[*msg] = true;
    } else if (keyword == "TOP") {
      const uint64_t lines = *number(args[1], UINT64_MAX);
      if (body(i) != top_form(messages()[*msg].content, lines)) fail("TOP sent other bytes");
    } else if (keyword == "DELE") {
      deleted_[*msg] = true;
    } else if (keyword == "RSET") {
      deleted_.fill(false);
      read_.fill(false);  // as Dovecot's RSET: nothing read so far is marked seen
      uint64_t octets = 0;
      for (size_t m = 0; m < messages().size(); ++m) octets += listed(m);
      if (text != "maildrop has 5 messages (" + std::to_string(octets) + " octets)")
        fail("RSET: " + text);
    } else if (keyword == "CAPA") {
      (void)body(i);
    } else if (keyword == "QUIT") {
      quit(status);
      committed_ = true;
    }
  }

  void quit(std::string_view status) {
    if (status != "+OK Logging out.") fail("QUIT: " + std::string(status));
    quit_ = true;
    ended_ = true;
  }

  static std::string_view space_rest(std::string_view line) {
    const size_t space = line.find(' ');
    return space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  }
  std::optional<std::string> password_of(const std::string& user) const {
    auto it = passwords_.find(user);
    if (it == passwords_.end()) return std::nullopt;
    return it->second;
  }

  std::string_view input_;
  const std::map<std::string, std::string>& passwords_;
  InputLines lines_{input_};
  std::vector<std::string_view> out_;
  bool transaction_ = false;
  bool ended_ = false;
  bool quit_ = false;
  bool committed_ = false;
  std::optional<std::string> pending_user_;
  std::array<bool, 5> deleted_{};
  std::array<bool, 5> read_{};
  unsigned retrieved_ = 0;
};

// The disk after the session: what the client asked for, and nothing else.
void check_maildir(const Scratch& s, const TranscriptChecker& t) {
  std::set<std::string> want_cur, want_new;
  for (size_t i = 0; i < messages().size(); ++i) {
    const TemplateMessage& m = messages()[i];
    if (t.committed() && t.deleted()[i]) continue;
    // A commit moves what the session saw from new/ to cur/, marked ":2,",
    // and flags what it RETRieved seen (pop3.mark_retrieved_seen).
    const bool in_new = m.in_new && !t.committed();
    std::string name = m.base + (m.in_new ? (in_new ? "" : ":2,") : m.info);
    if (t.committed() && t.read()[i]) name = maildir_name_with_flag(name, kMaildirSeenFlag);
    (in_new ? want_new : want_cur).insert(name);
    const std::string path = s.maildir() + (in_new ? "/new/" : "/cur/") + name;
    const std::optional<std::string> content = read_file(path);
    if (!content) fail("message " + std::to_string(i + 1) + " is not at " + path);
    if (*content != m.content) fail("message " + std::to_string(i + 1) + " changed on disk");
  }
  if (list_dir(s.maildir() + "/cur") != want_cur) fail("cur/ holds other files");
  if (list_dir(s.maildir() + "/new") != want_new) fail("new/ holds other files");
  if (!list_dir(s.maildir() + "/tmp").empty()) fail("tmp/ is not empty");
  for (const std::string& n : list_dir(s.maildir()))
    if (n != "cur" && n != "new" && n != "tmp" && n != "pop3d.index" && n != "pop3d.lock")
      fail("left behind in the maildir: " + n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65536) return 0;
  fuzz::quiet_log();
  Scratch& s = scratch();
  s.reset();

  Settings settings;
  settings.auth.failure_delay = Millis(0);
  settings.pop3.plaintext_auth = PlaintextAuth::kAllow;
  ScratchUsers users(s.maildir());
  MaildirStore store;
  FakePolicy policy;
  SessionContext ctx{settings, users,       store, policy,
                     nullptr,  "192.0.2.1", false, "mail.example.org"};
  const std::string_view input = fuzz::as_text(data, size);
  auto pipe = std::make_shared<MemoryPipe>();
  pipe->sendfile = true;
  if (!input.empty()) pipe->send(std::string(input));

  SessionSummary summary;
  {
    // Ends before the checks: the maildrop (and its lock) go with it.
    Pop3Session session(ctx, std::make_unique<MemoryTransport>(pipe), std::string(kTimestamp));
    summary = session.run();
  }
  TranscriptChecker transcript(input, pipe->output, users.passwords());
  transcript.run();
  check_maildir(s, transcript);
  if (transcript.ended_by_quit() != (summary.end == "quit")) fail("ended by " + summary.end);
  if (summary.retrieved != transcript.retrieved()) fail("RETR count differs from the summary");
  unsigned deleted = 0;
  for (bool d : transcript.deleted()) deleted += d ? 1 : 0;
  if (summary.deleted != (transcript.committed() ? deleted : 0))
    fail("deleted count differs from the summary");
  return 0;
}
