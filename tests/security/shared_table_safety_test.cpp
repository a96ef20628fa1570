// The shared tables against a subverted worker: whatever it writes into
// the mapping, the other processes stay within bounds, every failure is
// still counted, and the master never waits on a lock it holds.
//
// Each hostile case runs in a child process: an out-of-bounds read there
// ends the child (SIGSEGV, or an ASan/UBSan report in the sanitizer build)
// and fails the test instead of taking the whole suite down; a wait that
// never ends is cut by an alarm set far above any honest run.
#include <cppunit/extensions/HelperMacros.h>

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "admin/who.hpp"
#include "security/anti_hammer_table.hpp"
#include "security/connection_table.hpp"
#include "util/shared_mapping.hpp"

namespace pop3d {

namespace {

// Far above what any of these cases needs on a loaded CI machine; only a
// process that waits forever reaches it.
constexpr unsigned kHangLimitSeconds = 60;

IpKey v4_number(uint32_t n) {
  IpKey k{};
  k[10] = k[11] = 0xff;
  k[12] = static_cast<uint8_t>(n >> 24);
  k[13] = static_cast<uint8_t>(n >> 16);
  k[14] = static_cast<uint8_t>(n >> 8);
  k[15] = static_cast<uint8_t>(n);
  return k;
}

// Runs `body` in a child; "" when it exited 0, else how it ended.
std::string in_child(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(kHangLimitSeconds);
    ::_exit(body());
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return "waitpid failed";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFEXITED(status)) return "child failed check " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) return "child hung";
  return "child killed by signal " + std::to_string(WTERMSIG(status));
}

void fill(void* p, size_t n, uint8_t byte) {
  std::memset(p, byte, n);
}

// Every aligned 64-bit word of [p, p + n) set to `word`: whatever the
// layout of a slot, each of its 64-bit fields (times) gets the value, its
// first byte (the "used" flag) the low byte, and 32-bit fields a half.
void fill_words(void* p, size_t n, uint64_t word) {
  for (size_t i = 0; i + 8 <= n; i += 8) std::memcpy(static_cast<char*>(p) + i, &word, 8);
}

}  // namespace

class SharedTableSafetyTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(SharedTableSafetyTest);
  CPPUNIT_TEST(array_at_refuses_what_does_not_fit);
  CPPUNIT_TEST(hash_key_differs_per_table);
  CPPUNIT_TEST(run_full_of_blocks_still_counts_new_failure);
  CPPUNIT_TEST(garbage_header_and_entries_keep_hammer_table_in_bounds);
  CPPUNIT_TEST(open_refuses_a_slot_count_that_disagrees_with_the_file);
  CPPUNIT_TEST(garbage_header_and_slots_keep_connection_table_in_bounds);
  CPPUNIT_TEST(master_release_does_not_wait_for_a_live_holder);
  CPPUNIT_TEST(master_release_does_not_hang_on_a_garbage_mutex);
  CPPUNIT_TEST(garbage_slots_give_a_bounded_session_list);
  CPPUNIT_TEST(session_list_does_not_wait_for_a_live_holder);
  CPPUNIT_TEST_SUITE_END();

  AntiHammerPolicy policy_{3, 600, 1800, 64};

 public:
  void array_at_refuses_what_does_not_fit() {
    void* base = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CPPUNIT_ASSERT(base != MAP_FAILED);
    const SharedMapping m(base, 4096);
    CPPUNIT_ASSERT(m.array_at<uint64_t>(0, 512) != nullptr);
    CPPUNIT_ASSERT(m.array_at<uint64_t>(8, 511) != nullptr);
    CPPUNIT_ASSERT(m.array_at<uint64_t>(8, 512) == nullptr);
    CPPUNIT_ASSERT(m.array_at<uint64_t>(4097, 0) == nullptr);
    CPPUNIT_ASSERT(m.array_at<uint64_t>(0, SIZE_MAX / 4) == nullptr);  // count * 8 would wrap
    CPPUNIT_ASSERT(SharedMapping().array_at<uint64_t>(0, 0) == nullptr);
  }

  void hash_key_differs_per_table() {
    // With std::hash every table put an address at the same slot, so an
    // attacker could work out offline which addresses share a run.
    auto a = AntiHammerTable::create_anonymous(4096);
    auto b = AntiHammerTable::create_anonymous(4096);
    CPPUNIT_ASSERT(a.ok() && b.ok());
    int same = 0;
    for (uint32_t n = 0; n < 64; ++n) {
      same += a->run_start_for_test(v4_number(0xc0000200 + n), 64) ==
                      b->run_start_for_test(v4_number(0xc0000200 + n), 64)
                  ? 1
                  : 0;
    }
    CPPUNIT_ASSERT(same < 8);  // by chance, about 64/4096 of one
  }

  void run_full_of_blocks_still_counts_new_failure() {
    auto made = AntiHammerTable::create_anonymous(64);
    CPPUNIT_ASSERT(made.ok());
    AntiHammerTable& t = *made;
    // Addresses that all start at the same slot, so they share one run.
    const IpKey first = v4_number(0x0a000000);
    const size_t start = t.run_start_for_test(first, 64);
    std::vector<IpKey> crowd{first};
    for (uint32_t n = 1; crowd.size() < 17 && n < 1000000; ++n) {
      const IpKey k = v4_number(0x0a000000 + n);
      if (t.run_start_for_test(k, 64) == start) crowd.push_back(k);
    }
    CPPUNIT_ASSERT_EQUAL(size_t{17}, crowd.size());
    // 16 blocks fill the run; the earlier one starts, the sooner it ends.
    for (int i = 0; i < 16; ++i) {
      for (int f = 0; f < 3; ++f) t.record_failure(crowd[i], policy_, 1000 + i);
      CPPUNIT_ASSERT(t.is_blocked(crowd[i], policy_, 1000 + i));
    }
    const IpKey newcomer = crowd[16];
    CPPUNIT_ASSERT(!t.record_failure(newcomer, policy_, 1100));
    CPPUNIT_ASSERT(!t.record_failure(newcomer, policy_, 1101));
    CPPUNIT_ASSERT(t.record_failure(newcomer, policy_, 1102));
    CPPUNIT_ASSERT(t.is_blocked(newcomer, policy_, 1103));
    CPPUNIT_ASSERT(t.pressure_events() > 0);
    // The block that gave way is the one nearest its end; the rest stand.
    CPPUNIT_ASSERT(!t.is_blocked(crowd[0], policy_, 1103));
    for (int i = 1; i < 16; ++i) CPPUNIT_ASSERT(t.is_blocked(crowd[i], policy_, 1103));
  }

  void garbage_header_and_entries_keep_hammer_table_in_bounds() {
    // Single bytes, then words that put the extremes of int64 and int32 in
    // the times and counts (INT64_MIN + 1 overflowed `now - last_failure`).
    const uint64_t patterns[] = {0xff, 0x7f, 0x80, 0x41, 0x8000000000000001, 0x7fffffff00000001};
    for (const uint64_t pattern : patterns) {
      auto made = AntiHammerTable::create_anonymous(64);
      CPPUNIT_ASSERT(made.ok());
      AntiHammerTable& t = *made;
      const std::string how = in_child([&]() {
        auto* bytes = static_cast<uint8_t*>(t.mapping_for_test());
        // The worker's work: magic, version, slot count, pressure and the
        // key in the header (the mutex left alone: that case is below), and
        // every byte of every slot.
        if (pattern <= 0xff) {
          fill(bytes, 4 * sizeof(uint64_t) + 16, static_cast<uint8_t>(pattern));
          fill(bytes + 4096, t.mapping_size_for_test() - 4096, static_cast<uint8_t>(pattern));
        } else {
          fill_words(bytes, 4 * sizeof(uint64_t) + 16, pattern);
          fill_words(bytes + 4096, t.mapping_size_for_test() - 4096, pattern);
        }
        const AntiHammerPolicy p{3, 600, 1800, 64};
        const int64_t now = 5000;
        for (uint32_t n = 0; n < 2000; ++n) {
          const IpKey k = v4_number(0xc6336400 + n);
          (void)t.is_blocked(k, p, now);
          (void)t.record_failure(k, p, now);
        }
        (void)t.blocked(p, now);
        (void)t.unblock(v4_number(0xc6336400), p);
        (void)t.pressure_events();
        // It still does its job: three failures block a new address.
        const IpKey fresh = v4_number(0xcb007101);
        for (int f = 0; f < 3; ++f) t.record_failure(fresh, p, now + 1);
        return t.is_blocked(fresh, p, now + 2) ? 0 : 1;
      });
      CPPUNIT_ASSERT_EQUAL_MESSAGE("garbage " + std::to_string(pattern), std::string(""), how);
    }
  }

  void open_refuses_a_slot_count_that_disagrees_with_the_file() {
    char tmpl[] = "/tmp/pop3d-safety-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    const std::string path = dir + "/table";
    auto owner = AntiHammerTable::create(path, 64);
    CPPUNIT_ASSERT(owner.ok());
    auto* slots_field = static_cast<uint64_t*>(owner->mapping_for_test()) + 2;
    // A count that wraps around to the file's true size (64 plus 2^64 over
    // the largest power of two in the slot size): a check of the header's
    // count against the size alone lets it in.
    const uint64_t entry_size = (owner->mapping_size_for_test() - 4096) / 64;
    const int twos = __builtin_ctzll(entry_size);
    CPPUNIT_ASSERT_MESSAGE("slots of an odd size cannot wrap", twos > 0);
    const uint64_t wrap = uint64_t{1} << (64 - twos);
    *slots_field = wrap + 64;
    const bool opened = AntiHammerTable::open(path).ok();
    *slots_field = 1;
    const bool opened_small = AntiHammerTable::open(path).ok();
    *slots_field = 64;
    const bool opened_true = AntiHammerTable::open(path).ok();
    std::system(("rm -rf '" + dir + "'").c_str());
    CPPUNIT_ASSERT(!opened);
    CPPUNIT_ASSERT(!opened_small);
    CPPUNIT_ASSERT(opened_true);
  }

  void garbage_header_and_slots_keep_connection_table_in_bounds() {
    for (const uint8_t byte : {uint8_t{0xff}, uint8_t{0x7f}, uint8_t{0x41}}) {
      auto made = ConnectionTable::create(16);
      CPPUNIT_ASSERT(made.ok());
      ConnectionTable& t = *made;
      const std::string how = in_child([&]() {
        auto* bytes = static_cast<uint8_t*>(t.mapping_for_test());
        // Past the mutex, up to the slots: where a count or a capacity
        // would live; then every slot.
        fill(bytes + sizeof(pthread_mutex_t), 256 - sizeof(pthread_mutex_t), byte);
        fill(bytes + 256, t.mapping_size_for_test() - 256, byte);
        // Every slot now holds a "session"; the table is full, and says so.
        if (t.admit(4242, v4_number(0xc0000201), 100, 0) != Admission::kTooManyConnections) {
          return 1;
        }
        if (t.active() != 16) return 2;
        // The worker's garbage pids go; the table works again.
        std::memset(bytes + 256, 0, t.mapping_size_for_test() - 256);
        if (t.admit(4242, v4_number(0xc0000201), 100, 0) != Admission::kAdmitted) return 3;
        if (t.active() != 1) return 4;
        if (t.release(4242) != TableAccess::kDone || t.active() != 0) return 5;
        return 0;
      });
      CPPUNIT_ASSERT_EQUAL_MESSAGE("garbage byte " + std::to_string(byte), std::string(""), how);
    }
  }

  void master_release_does_not_wait_for_a_live_holder() {
    auto made = ConnectionTable::create(8);
    CPPUNIT_ASSERT(made.ok());
    ConnectionTable& t = *made;
    CPPUNIT_ASSERT(t.admit(501, v4_number(0xc0000201), 8, 0) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(502, v4_number(0xc0000202), 8, 0) == Admission::kAdmitted);
    // The "master" is a child, so that a release that waits forever is cut
    // by its alarm; the "worker" holding the lock is its own child.
    const std::string how = in_child([&]() {
      int ready[2];
      if (::pipe(ready) < 0) return 10;
      const pid_t master = ::getpid();
      const pid_t holder = ::fork();
      if (holder == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // not left behind if the "master" hangs
        if (::getppid() != master) ::_exit(0);
        ::close(ready[0]);
        pthread_mutex_lock(static_cast<pthread_mutex_t*>(t.mapping_for_test()));
        (void)::write(ready[1], "x", 1);
        for (;;) ::pause();  // holds the lock while it lives
      }
      ::close(ready[1]);
      char c;
      if (::read(ready[0], &c, 1) != 1) return 11;
      const TableAccess first = t.release(501);
      const TableAccess again = t.retry_releases();
      ::kill(holder, SIGKILL);
      ::waitpid(holder, nullptr, 0);
      if (first != TableAccess::kBusy) return 1;
      if (again != TableAccess::kBusy) return 2;
      // The holder died with the lock: the retry gets it, repairs it and
      // frees the slot it kept in mind.
      if (t.retry_releases() != TableAccess::kDone) return 3;
      if (t.active() != 1) return 4;
      if (t.admit(503, v4_number(0xc0000201), 2, 0) != Admission::kAdmitted) return 5;
      return 0;
    });
    CPPUNIT_ASSERT_EQUAL(std::string(""), how);
  }

  void master_release_does_not_hang_on_a_garbage_mutex() {
    for (const uint8_t byte : {uint8_t{0xff}, uint8_t{0x7f}, uint8_t{0x41}}) {
      auto made = ConnectionTable::create(8);
      CPPUNIT_ASSERT(made.ok());
      ConnectionTable& t = *made;
      const std::string how = in_child([&]() {
        fill(t.mapping_for_test(), sizeof(pthread_mutex_t), byte);
        // Busy or done, it answers; it does not wait.
        (void)t.release(777);
        (void)t.retry_releases();
        return 0;
      });
      CPPUNIT_ASSERT_EQUAL_MESSAGE("garbage byte " + std::to_string(byte), std::string(""), how);
    }
  }

  // `pop3d --who` and `--kick` read what workers wrote: user names without
  // a NUL, any byte in them, pids and times of any value.
  void garbage_slots_give_a_bounded_session_list() {
    for (const uint8_t byte : {uint8_t{0xff}, uint8_t{0x7f}, uint8_t{0x41}, uint8_t{0x0a}}) {
      auto made = ConnectionTable::create(16);
      CPPUNIT_ASSERT(made.ok());
      ConnectionTable& t = *made;
      const std::string how = in_child([&]() {
        auto* bytes = static_cast<uint8_t*>(t.mapping_for_test());
        fill(bytes + 256, t.mapping_size_for_test() - 256, byte);
        auto sessions = t.snapshot(std::chrono::milliseconds(1000));
        if (!sessions) return 1;
        int32_t pid;
        std::memset(&pid, byte, sizeof pid);
        // 0xff.. is pid -1: never a session, never signalled.
        if (sessions->size() != (pid > 0 ? 16u : 0u)) return 2;
        for (const SessionInfo& s : *sessions) {
          if (s.user != std::string(ConnectionTable::kMaxUser, static_cast<char>(byte))) return 3;
          if (!s.logged_in) return 4;  // garbage counts as logged in, as for eviction
        }
        for (const std::string& out : {sessions_text(*sessions), sessions_json(*sessions)}) {
          for (const char c : out) {
            const auto u = static_cast<unsigned char>(c);
            if (u >= 0x7f || (u < 0x20 && c != '\n')) return 5;
          }
        }
        auto kicked =
            t.request_kick(std::string(ConnectionTable::kMaxUser, static_cast<char>(byte)),
                           std::chrono::milliseconds(1000));
        if (!kicked) return 6;
        // One pid in every slot: named once.
        if (kicked->size() != (pid > 1 ? 1u : 0u)) return 7;
        return 0;
      });
      CPPUNIT_ASSERT_EQUAL_MESSAGE("garbage byte " + std::to_string(byte), std::string(""), how);
    }
  }

  void session_list_does_not_wait_for_a_live_holder() {
    auto made = ConnectionTable::create(8);
    CPPUNIT_ASSERT(made.ok());
    ConnectionTable& t = *made;
    CPPUNIT_ASSERT(t.admit(501, v4_number(0xc0000201), 8, 0) == Admission::kAdmitted);
    const std::string how = in_child([&]() {
      int ready[2];
      if (::pipe(ready) < 0) return 10;
      const pid_t admin = ::getpid();
      const pid_t holder = ::fork();
      if (holder == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != admin) ::_exit(0);
        ::close(ready[0]);
        pthread_mutex_lock(static_cast<pthread_mutex_t*>(t.mapping_for_test()));
        (void)::write(ready[1], "x", 1);
        for (;;) ::pause();
      }
      ::close(ready[1]);
      char c;
      if (::read(ready[0], &c, 1) != 1) return 11;
      const auto started = std::chrono::steady_clock::now();
      const bool listed = t.snapshot(std::chrono::milliseconds(200)).ok();
      const bool kicked = t.request_kick("alice", std::chrono::milliseconds(200)).ok();
      const auto took = std::chrono::steady_clock::now() - started;
      ::kill(holder, SIGKILL);
      ::waitpid(holder, nullptr, 0);
      if (listed || kicked) return 1;
      if (took > std::chrono::seconds(5)) return 2;
      // The holder died with the lock: the next look repairs it.
      auto sessions = t.snapshot(std::chrono::milliseconds(1000));
      if (!sessions || sessions->size() != 1) return 3;
      return 0;
    });
    CPPUNIT_ASSERT_EQUAL(std::string(""), how);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SharedTableSafetyTest);

}  // namespace pop3d
