// The connection table as `pop3d --who` and `--kick` see it: what a
// snapshot says about each session, that a kick reaches only the sessions
// of that user that have logged in, that the table file of a running daemon
// is found and checked, and how the sessions are printed (text and JSON).
#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "admin/who.hpp"
#include "security/connection_table.hpp"

namespace pop3d {

namespace {

IpKey ip(const char* text) {
  return *parse_ip_key(text);
}

const SessionInfo* find_pid(const std::vector<SessionInfo>& sessions, pid_t pid) {
  for (const SessionInfo& s : sessions) {
    if (s.pid == pid) return &s;
  }
  return nullptr;
}

constexpr std::chrono::milliseconds kWait{1000};

// A directory of its own for the table files, removed with the object.
struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/pop3d-who-test-XXXXXX";
    if (::mkdtemp(name) != nullptr) path = name;
  }
  ~TempDir() {
    if (!path.empty()) std::system(("rm -rf '" + path + "'").c_str());
  }
};

}  // namespace

class ConnectionWhoTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ConnectionWhoTest);
  CPPUNIT_TEST(snapshot_shows_user_client_state_since_and_octets);
  CPPUNIT_TEST(ended_and_yielded_sessions_leave_the_snapshot);
  CPPUNIT_TEST(long_user_names_are_cut_to_the_slot);
  CPPUNIT_TEST(kick_marks_only_logged_in_sessions_of_that_user);
  CPPUNIT_TEST(kick_never_names_pids_up_to_1);
  CPPUNIT_TEST(a_handed_over_slot_forgets_the_kick_and_the_user);
  CPPUNIT_TEST(table_file_is_found_and_checked);
  CPPUNIT_TEST(text_lists_sessions_with_escaped_users);
  CPPUNIT_TEST(json_escapes_every_byte_it_must);
  CPPUNIT_TEST(json_lists_sessions);
  CPPUNIT_TEST_SUITE_END();

  static ConnectionTable table(size_t slots = 8) {
    auto t = ConnectionTable::create(slots);
    CPPUNIT_ASSERT(t.ok());
    return std::move(*t);
  }

 public:
  void snapshot_shows_user_client_state_since_and_octets() {
    ConnectionTable t = table();
    const int64_t before = static_cast<int64_t>(::time(nullptr));
    CPPUNIT_ASSERT(t.admit(101, ip("192.0.2.1"), 8, 0) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(102, ip("2001:db8::5"), 8, 0, 64) == Admission::kAdmitted);
    const int64_t after = static_cast<int64_t>(::time(nullptr));
    t.mark_logged_in(101, "alice");
    const size_t slot = t.slot_of(101);
    CPPUNIT_ASSERT(slot != ConnectionTable::kNoSlot);
    t.record_octets_sent(slot, 1234);
    t.record_octets_sent(slot, 5678);  // a running total: the last store counts
    CPPUNIT_ASSERT(t.slot_of(999) == ConnectionTable::kNoSlot);

    auto sessions = t.snapshot(kWait);
    CPPUNIT_ASSERT(sessions.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{2}, sessions->size());
    const SessionInfo* alice = find_pid(*sessions, 101);
    const SessionInfo* anon = find_pid(*sessions, 102);
    CPPUNIT_ASSERT(alice != nullptr && anon != nullptr);
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), alice->user);
    CPPUNIT_ASSERT(alice->logged_in);
    CPPUNIT_ASSERT(alice->client == ip("192.0.2.1"));
    CPPUNIT_ASSERT_EQUAL(uint64_t{5678}, alice->octets_sent);
    CPPUNIT_ASSERT(alice->since >= before && alice->since <= after);
    CPPUNIT_ASSERT_EQUAL(std::string(""), anon->user);
    CPPUNIT_ASSERT(!anon->logged_in);
    // The client's own address, not the /64 it is counted under.
    CPPUNIT_ASSERT(anon->client == ip("2001:db8::5"));
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, anon->octets_sent);
    // Stores to a slot that does not exist go nowhere.
    t.record_octets_sent(8, 1);
    t.record_octets_sent(ConnectionTable::kNoSlot, 1);
  }

  void ended_and_yielded_sessions_leave_the_snapshot() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(t.admit(101, ip("192.0.2.1"), 2, 0) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(102, ip("192.0.2.2"), 2, 0) == Admission::kAdmitted);
    t.mark_logged_in(102, "bob");
    t.end_session(102);
    auto sessions = t.snapshot(kWait);
    CPPUNIT_ASSERT(sessions.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{1}, sessions->size());
    CPPUNIT_ASSERT_EQUAL(pid_t{101}, (*sessions)[0].pid);
    // 101 has not logged in: a newcomer from elsewhere takes its slot.
    CPPUNIT_ASSERT(t.admit(103, ip("192.0.2.3"), 2, 0) == Admission::kAdmitted);
    const AdmitResult r =
        t.admit_or_evict(104, ip("198.51.100.9"), 2, 0, 64, ConnectionTable::now_ns());
    CPPUNIT_ASSERT(r.admission == Admission::kEvicting);
    const pid_t victim = r.victim;
    CPPUNIT_ASSERT(t.yield_if_asked(victim) == Yield::kYielded);
    sessions = t.snapshot(kWait);
    CPPUNIT_ASSERT(sessions.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{2}, sessions->size());
    CPPUNIT_ASSERT(find_pid(*sessions, victim) == nullptr);
    const SessionInfo* newcomer = find_pid(*sessions, 104);
    CPPUNIT_ASSERT(newcomer != nullptr);
    CPPUNIT_ASSERT(newcomer->client == ip("198.51.100.9"));
    CPPUNIT_ASSERT(!newcomer->logged_in);
  }

  void long_user_names_are_cut_to_the_slot() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(t.admit(101, ip("192.0.2.1"), 8, 0) == Admission::kAdmitted);
    t.mark_logged_in(101, std::string(500, 'x'));
    auto sessions = t.snapshot(kWait);
    CPPUNIT_ASSERT(sessions.ok());
    CPPUNIT_ASSERT_EQUAL(std::string(ConnectionTable::kMaxUser, 'x'), (*sessions)[0].user);
    // Too long to be anyone's name: nobody's sessions are kicked by it.
    auto kicked = t.request_kick(std::string(500, 'x'), kWait);
    CPPUNIT_ASSERT(kicked.ok() && kicked->empty());
  }

  void kick_marks_only_logged_in_sessions_of_that_user() {
    ConnectionTable t = table();
    for (pid_t pid : {101, 102, 103, 104}) {
      CPPUNIT_ASSERT(t.admit(pid, ip("192.0.2.1"), 8, 0) == Admission::kAdmitted);
    }
    t.mark_logged_in(101, "alice");
    t.mark_logged_in(102, "alice2");
    t.mark_logged_in(103, "alice");
    // 104 has not logged in (it may have said USER alice): not alice's yet.
    auto none = t.request_kick("alic", kWait);
    CPPUNIT_ASSERT(none.ok() && none->empty());
    CPPUNIT_ASSERT(t.request_kick("", kWait)->empty());
    CPPUNIT_ASSERT(!t.kick_requested(101));
    auto kicked = t.request_kick("alice", kWait);
    CPPUNIT_ASSERT(kicked.ok());
    CPPUNIT_ASSERT((*kicked == std::vector<pid_t>{101, 103}));
    CPPUNIT_ASSERT(t.kick_requested(101));
    CPPUNIT_ASSERT(t.kick_requested(103));
    CPPUNIT_ASSERT(!t.kick_requested(102));
    CPPUNIT_ASSERT(!t.kick_requested(104));
    CPPUNIT_ASSERT(!t.kick_requested(999));
  }

  void kick_never_names_pids_up_to_1() {
    ConnectionTable t = table();
    for (pid_t pid : {-1, 0, 1, 2}) {
      CPPUNIT_ASSERT(t.admit(pid, ip("192.0.2.1"), 8, 0) == Admission::kAdmitted);
      t.mark_logged_in(pid, "alice");
    }
    auto kicked = t.request_kick("alice", kWait);
    CPPUNIT_ASSERT(kicked.ok());
    CPPUNIT_ASSERT((*kicked == std::vector<pid_t>{2}));
  }

  void a_handed_over_slot_forgets_the_kick_and_the_user() {
    ConnectionTable t = table(1);
    CPPUNIT_ASSERT(t.admit(101, ip("192.0.2.1"), 1, 0) == Admission::kAdmitted);
    const AdmitResult r =
        t.admit_or_evict(102, ip("192.0.2.2"), 1, 0, 64, ConnectionTable::now_ns());
    CPPUNIT_ASSERT(r.admission == Admission::kEvicting);
    t.end_session(101);  // the slot goes to 102, which waited for it
    auto sessions = t.snapshot(kWait);
    CPPUNIT_ASSERT(sessions.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{1}, sessions->size());
    CPPUNIT_ASSERT_EQUAL(pid_t{102}, (*sessions)[0].pid);
    CPPUNIT_ASSERT((*sessions)[0].client == ip("192.0.2.2"));
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, (*sessions)[0].octets_sent);
    t.mark_logged_in(102, "bob");
    CPPUNIT_ASSERT((*t.request_kick("bob", kWait) == std::vector<pid_t>{102}));
    t.end_session(102);
    CPPUNIT_ASSERT(t.admit(103, ip("192.0.2.3"), 1, 0) == Admission::kAdmitted);
    // The slot's next session starts clean: no user, no kick.
    CPPUNIT_ASSERT(!t.kick_requested(103));
    sessions = t.snapshot(kWait);
    CPPUNIT_ASSERT(sessions.ok() && sessions->size() == 1);
    CPPUNIT_ASSERT_EQUAL(std::string(""), (*sessions)[0].user);
  }

  void table_file_is_found_and_checked() {
    TempDir dir;
    CPPUNIT_ASSERT(!dir.path.empty());
    const std::string path = dir.path + "/pop3d.sessions";
    auto daemon = ConnectionTable::create(path, 4);
    CPPUNIT_ASSERT(daemon.ok());
    struct stat st;
    CPPUNIT_ASSERT(::stat(path.c_str(), &st) == 0);
    CPPUNIT_ASSERT_EQUAL(0600u, static_cast<unsigned>(st.st_mode & 07777));
    CPPUNIT_ASSERT(daemon->admit(101, ip("192.0.2.1"), 4, 0) == Admission::kAdmitted);
    daemon->mark_logged_in(101, "alice");
    daemon->record_octets_sent(daemon->slot_of(101), 42);

    // The administrator's process maps the same bytes.
    auto admin = ConnectionTable::open(path);
    CPPUNIT_ASSERT(admin.ok());
    auto sessions = admin->snapshot(kWait);
    CPPUNIT_ASSERT(sessions.ok() && sessions->size() == 1);
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), (*sessions)[0].user);
    CPPUNIT_ASSERT_EQUAL(uint64_t{42}, (*sessions)[0].octets_sent);
    CPPUNIT_ASSERT((*admin->request_kick("alice", kWait) == std::vector<pid_t>{101}));
    CPPUNIT_ASSERT(daemon->kick_requested(101));

    CPPUNIT_ASSERT(!ConnectionTable::open(dir.path + "/missing").ok());
    // A file of another size, or another layout, is refused.
    const std::string odd = dir.path + "/odd";
    std::ofstream(odd) << std::string(1000, 'x');
    CPPUNIT_ASSERT(!ConnectionTable::open(odd).ok());
    auto other = ConnectionTable::create(dir.path + "/other", 4);
    CPPUNIT_ASSERT(other.ok());
    CPPUNIT_ASSERT(ConnectionTable::open(dir.path + "/other").ok());
    auto* header = static_cast<unsigned char*>(other->mapping_for_test());
    header[sizeof(pthread_mutex_t)] ^= 1;  // the magic number, after the mutex
    CPPUNIT_ASSERT(!ConnectionTable::open(dir.path + "/other").ok());
    // A link is not followed (the directory belongs to the service user).
    CPPUNIT_ASSERT(::symlink(path.c_str(), (dir.path + "/link").c_str()) == 0);
    CPPUNIT_ASSERT(!ConnectionTable::open(dir.path + "/link").ok());
  }

  void text_lists_sessions_with_escaped_users() {
    CPPUNIT_ASSERT_EQUAL(std::string("no session is in progress\n"), sessions_text({}));
    SessionInfo a;
    a.pid = 4321;
    a.user = "al\nice";
    a.logged_in = true;
    a.client = ip("192.0.2.7");
    a.since = 1000;
    a.octets_sent = 777;
    SessionInfo b;
    b.pid = 4322;
    b.client = ip("2001:db8::1");
    b.since = 2000;
    const std::string text = sessions_text({b, a});
    // A header line, then the oldest session first.
    const auto first_nl = text.find('\n');
    CPPUNIT_ASSERT(text.compare(0, 4, "USER") == 0);
    const std::string row_a = text.substr(first_nl + 1, text.find('\n', first_nl + 1) - first_nl);
    CPPUNIT_ASSERT(row_a.find("al\\x0aice") == 0);
    CPPUNIT_ASSERT(row_a.find("192.0.2.7") != std::string::npos);
    CPPUNIT_ASSERT(row_a.find("TRANSACTION") != std::string::npos);
    CPPUNIT_ASSERT(row_a.find("777") != std::string::npos);
    CPPUNIT_ASSERT(row_a.find("4321") != std::string::npos);
    CPPUNIT_ASSERT(text.find("AUTHORIZATION") != std::string::npos);
    CPPUNIT_ASSERT(text.find("2001:db8::1") != std::string::npos);
    size_t lines = 0;
    for (char c : text) {
      if (c == '\n') ++lines;
      CPPUNIT_ASSERT(c == '\n' || (c >= 0x20 && c < 0x7f));
    }
    CPPUNIT_ASSERT_EQUAL(size_t{3}, lines);
  }

  void json_escapes_every_byte_it_must() {
    CPPUNIT_ASSERT_EQUAL(std::string("\"a\\\"b\\\\c\\u000a\\u0001\\u007f\""),
                         json_string("a\"b\\c\n\x01\x7f"));
    // Valid UTF-8 stays; anything else becomes \u00XX, so the output is
    // valid JSON (and valid UTF-8) whatever the slot held.
    CPPUNIT_ASSERT_EQUAL(std::string("\"j\xc3\xa9r\xc3\xb4me\""),
                         json_string("j\xc3\xa9r\xc3\xb4me"));
    CPPUNIT_ASSERT_EQUAL(std::string("\"\\u00ff\""), json_string("\xff"));
    CPPUNIT_ASSERT_EQUAL(std::string("\"\\u00c0\\u00af\""), json_string("\xc0\xaf"));  // overlong
    CPPUNIT_ASSERT_EQUAL(std::string("\"\\u00ed\\u00a0\\u0080\""),
                         json_string("\xed\xa0\x80"));  // a surrogate
    CPPUNIT_ASSERT_EQUAL(std::string("\"\\u00e2\\u0082\""), json_string("\xe2\x82"));  // cut short
    CPPUNIT_ASSERT_EQUAL(std::string("\"\\u0000\""), json_string(std::string(1, '\0')));
  }

  void json_lists_sessions() {
    CPPUNIT_ASSERT_EQUAL(std::string("[]\n"), sessions_json({}));
    SessionInfo a;
    a.pid = 4321;
    a.user = "bob\"x";
    a.logged_in = true;
    a.client = ip("192.0.2.7");
    a.since = 1000;
    a.octets_sent = 777;
    SessionInfo b;
    b.pid = 4322;
    b.client = ip("::1");
    b.since = INT64_MAX;  // no time localtime can show
    const std::string json = sessions_json({a, b});
    CPPUNIT_ASSERT(json.find("\"user\": \"bob\\\"x\"") != std::string::npos);
    CPPUNIT_ASSERT(json.find("\"user\": null") != std::string::npos);
    CPPUNIT_ASSERT(json.find("\"state\": \"TRANSACTION\"") != std::string::npos);
    CPPUNIT_ASSERT(json.find("\"state\": \"AUTHORIZATION\"") != std::string::npos);
    CPPUNIT_ASSERT(json.find("\"client\": \"::1\"") != std::string::npos);
    CPPUNIT_ASSERT(json.find("\"since\": null") != std::string::npos);
    CPPUNIT_ASSERT(json.find("\"since_epoch\": 1000,") != std::string::npos);
    CPPUNIT_ASSERT(json.find("\"octets_sent\": 777,") != std::string::npos);
    CPPUNIT_ASSERT(json.find("\"pid\": 4321}") != std::string::npos);
    CPPUNIT_ASSERT(json.front() == '[' && json.substr(json.size() - 2) == "]\n");
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ConnectionWhoTest);

}  // namespace pop3d
