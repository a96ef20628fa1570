// A full connection table gives a newcomer the slot of a session that has
// not logged in (a slow crowd must not lock everyone out): which session
// yields, that logged-in sessions never do, and that the handover neither
// passes max_total nor loses a slot, whatever order the workers act in.
#include <cppunit/extensions/HelperMacros.h>

#include "security/connection_table.hpp"

namespace pop3d {

namespace {
IpKey ip(const char* text) {
  return *parse_ip_key(text);
}

constexpr size_t kSlots = 16;
constexpr int kPrefix = 64;
}  // namespace

class ConnectionEvictionTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ConnectionEvictionTest);
  CPPUNIT_TEST(victim_is_the_oldest_of_the_busiest_address);
  CPPUNIT_TEST(ipv6_victims_are_grouped_per_prefix);
  CPPUNIT_TEST(no_eviction_when_every_session_logged_in);
  CPPUNIT_TEST(only_not_logged_in_sessions_yield);
  CPPUNIT_TEST(per_address_limit_refuses_without_eviction);
  CPPUNIT_TEST(never_over_max_total);
  CPPUNIT_TEST(victim_that_logged_in_meanwhile_stays);
  CPPUNIT_TEST(victim_ending_on_its_own_hands_the_slot_over);
  CPPUNIT_TEST(withdrawn_claim_leaves_the_victim_its_slot);
  CPPUNIT_TEST(dead_workers_neither_keep_claims_nor_lose_slots);
  CPPUNIT_TEST(unsignallable_pids_are_never_victims);
  CPPUNIT_TEST(plain_admit_never_evicts);
  CPPUNIT_TEST_SUITE_END();

  static ConnectionTable table() {
    auto t = ConnectionTable::create(kSlots);
    CPPUNIT_ASSERT(t.ok());
    return std::move(*t);
  }

  static AdmitResult admit(ConnectionTable& t, pid_t pid, const char* address, size_t max_total,
                           int64_t now, size_t max_per_address = 0,
                           const std::vector<pid_t>& spare = {}) {
    return t.admit_or_evict(pid, ip(address), max_total, max_per_address, kPrefix, now, spare);
  }

 public:
  void victim_is_the_oldest_of_the_busiest_address() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(admit(t, 101, "192.0.2.1", 5, 10).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 102, "192.0.2.2", 5, 30).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 103, "192.0.2.2", 5, 20).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 104, "192.0.2.2", 5, 40).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 105, "192.0.2.3", 5, 1).admission == Admission::kAdmitted);
    // 105 is the oldest of all, but 192.0.2.2 holds the most sessions:
    // the oldest of those (103) yields.
    const AdmitResult r = admit(t, 200, "198.51.100.7", 5, 50);
    CPPUNIT_ASSERT(r.admission == Admission::kEvicting);
    CPPUNIT_ASSERT_EQUAL(pid_t{103}, r.victim);
    CPPUNIT_ASSERT(t.handover_state(200, r.slot) == Handover::kPending);
    CPPUNIT_ASSERT(t.yield_if_asked(105) == Yield::kStay);  // nobody waits for its slot
    CPPUNIT_ASSERT(t.yield_if_asked(103) == Yield::kYielded);
    CPPUNIT_ASSERT(t.handover_state(200, r.slot) == Handover::kDone);
    CPPUNIT_ASSERT_EQUAL(size_t{5}, t.active());
    // 192.0.2.2 is still the busiest (2 sessions): next is 102 (t=30).
    const AdmitResult next = admit(t, 201, "198.51.100.8", 5, 60);
    CPPUNIT_ASSERT(next.admission == Admission::kEvicting);
    CPPUNIT_ASSERT_EQUAL(pid_t{102}, next.victim);
    // The newcomer that got 103's slot counts as admitted at 50: once
    // every address holds one session, the oldest of all goes first.
    CPPUNIT_ASSERT(t.yield_if_asked(102) == Yield::kYielded);
    const AdmitResult third = admit(t, 202, "198.51.100.9", 5, 70);
    CPPUNIT_ASSERT_EQUAL(pid_t{105}, third.victim);
  }

  void ipv6_victims_are_grouped_per_prefix() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(admit(t, 101, "192.0.2.1", 3, 1).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 102, "2001:db8:1:2::1", 3, 5).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 103, "2001:db8:1:2::2", 3, 9).admission == Admission::kAdmitted);
    // Two addresses of one /64 are one host with two sessions.
    const AdmitResult r = admit(t, 200, "198.51.100.7", 3, 10);
    CPPUNIT_ASSERT(r.admission == Admission::kEvicting);
    CPPUNIT_ASSERT_EQUAL(pid_t{102}, r.victim);
  }

  void no_eviction_when_every_session_logged_in() {
    ConnectionTable t = table();
    for (pid_t pid = 101; pid <= 103; ++pid) {
      CPPUNIT_ASSERT(admit(t, pid, "192.0.2.1", 3, pid).admission == Admission::kAdmitted);
      t.mark_logged_in(pid);
    }
    const AdmitResult r = admit(t, 200, "198.51.100.7", 3, 500);
    CPPUNIT_ASSERT(r.admission == Admission::kTooManyConnections);
    CPPUNIT_ASSERT_EQUAL(size_t{3}, t.active());
    for (pid_t pid = 101; pid <= 103; ++pid) CPPUNIT_ASSERT(t.yield_if_asked(pid) == Yield::kStay);
    CPPUNIT_ASSERT_EQUAL(size_t{3}, t.active());
  }

  void only_not_logged_in_sessions_yield() {
    ConnectionTable t = table();
    // The busiest address and the oldest sessions are logged in; the one
    // session that is not yields, whatever its age or address.
    CPPUNIT_ASSERT(admit(t, 101, "192.0.2.1", 4, 1).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 102, "192.0.2.1", 4, 2).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 103, "192.0.2.1", 4, 3).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 104, "192.0.2.9", 4, 99).admission == Admission::kAdmitted);
    t.mark_logged_in(101);
    t.mark_logged_in(102);
    t.mark_logged_in(103);
    const AdmitResult r = admit(t, 200, "198.51.100.7", 4, 100);
    CPPUNIT_ASSERT(r.admission == Admission::kEvicting);
    CPPUNIT_ASSERT_EQUAL(pid_t{104}, r.victim);
    // The slot is claimed: the next newcomer finds nobody left to evict.
    CPPUNIT_ASSERT(admit(t, 201, "198.51.100.8", 4, 101).admission ==
                   Admission::kTooManyConnections);
  }

  void per_address_limit_refuses_without_eviction() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(admit(t, 101, "192.0.2.1", 3, 1, 2).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 102, "192.0.2.1", 3, 2, 2).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 103, "192.0.2.2", 3, 3, 2).admission == Admission::kAdmitted);
    // Full, with sessions to evict; but this address has its 2 already.
    // (The reason given is the full table, as before eviction existed.)
    CPPUNIT_ASSERT(admit(t, 200, "192.0.2.1", 3, 4, 2).admission == Admission::kTooManyConnections);
    CPPUNIT_ASSERT(t.yield_if_asked(101) == Yield::kStay);
    CPPUNIT_ASSERT(t.yield_if_asked(103) == Yield::kStay);
    // Another address may still evict...
    const AdmitResult r = admit(t, 201, "192.0.2.3", 3, 5, 2);
    CPPUNIT_ASSERT(r.admission == Admission::kEvicting);
    // ...and a newcomer waiting for a slot counts for its address.
    ConnectionTable roomy = table();
    CPPUNIT_ASSERT(admit(roomy, 101, "192.0.2.1", 2, 1, 1).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(roomy, 102, "192.0.2.2", 2, 2, 1).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(roomy, 201, "192.0.2.3", 2, 3, 1).admission == Admission::kEvicting);
    CPPUNIT_ASSERT(admit(roomy, 202, "192.0.2.3", 2, 4, 1).admission ==
                   Admission::kTooManyConnections);
    roomy.end_session(102);  // room again: the per-address limit decides
    CPPUNIT_ASSERT(admit(roomy, 202, "192.0.2.3", 2, 5, 1).admission ==
                   Admission::kTooManyFromAddress);
  }

  void never_over_max_total() {
    constexpr size_t kMax = 6;
    ConnectionTable t = table();
    for (pid_t pid = 101; pid < 101 + static_cast<pid_t>(kMax); ++pid) {
      CPPUNIT_ASSERT(admit(t, pid, "192.0.2.1", kMax, pid).admission == Admission::kAdmitted);
    }
    // Rounds of newcomers, each evicting; victims answer in every order,
    // some log in first, some end on their own. The count stays kMax.
    pid_t next = 1000;
    int64_t now = 1000;
    for (int round = 0; round < 20; ++round) {
      std::vector<AdmitResult> claims;
      std::vector<pid_t> newcomers;
      for (int k = 0; k < 3; ++k) {
        const pid_t newcomer = next++;
        const AdmitResult r = admit(t, newcomer, "198.51.100.7", kMax, ++now);
        CPPUNIT_ASSERT_EQUAL(kMax, t.active());
        if (r.admission != Admission::kEvicting) {
          CPPUNIT_ASSERT(r.admission == Admission::kTooManyConnections);
          continue;
        }
        claims.push_back(r);
        newcomers.push_back(newcomer);
      }
      // Two victims claimed at once are never the same session.
      for (size_t a = 0; a < claims.size(); ++a) {
        for (size_t b = a + 1; b < claims.size(); ++b) {
          CPPUNIT_ASSERT(claims[a].victim != claims[b].victim);
          CPPUNIT_ASSERT(claims[a].slot != claims[b].slot);
        }
      }
      std::vector<pid_t> logged_in;
      for (size_t i = 0; i < claims.size(); ++i) {
        switch ((round + static_cast<int>(i)) % 4) {
          case 0:
            CPPUNIT_ASSERT(t.yield_if_asked(claims[i].victim) == Yield::kYielded);
            break;
          case 1:
            t.mark_logged_in(claims[i].victim);
            logged_in.push_back(claims[i].victim);
            break;
          case 2:
            t.end_session(claims[i].victim);
            break;
          default:
            CPPUNIT_ASSERT(t.cancel_handover(newcomers[i], claims[i].slot) == Handover::kRefused);
            break;
        }
        CPPUNIT_ASSERT_EQUAL(kMax, t.active());
        // The newcomer has the slot exactly when the victim left it.
        const Handover h = t.handover_state(newcomers[i], claims[i].slot);
        CPPUNIT_ASSERT(h != Handover::kPending);
        CPPUNIT_ASSERT_EQUAL(
            (round + static_cast<int>(i)) % 4 == 0 || (round + static_cast<int>(i)) % 4 == 2,
            h == Handover::kDone);
        if (h == Handover::kRefused) t.end_session(newcomers[i]);  // refused: gone
      }
      // The logged-in sessions end, and new slow ones take their places,
      // so that every round has sessions to evict.
      for (const pid_t done : logged_in) {
        t.end_session(done);
        CPPUNIT_ASSERT_EQUAL(kMax - 1, t.active());
        CPPUNIT_ASSERT(t.admit(next++, ip("192.0.2.50"), kMax, 0) == Admission::kAdmitted);
      }
      CPPUNIT_ASSERT_EQUAL(kMax, t.active());
    }
  }

  void victim_that_logged_in_meanwhile_stays() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(admit(t, 101, "192.0.2.1", 2, 1).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 102, "192.0.2.2", 2, 2).admission == Admission::kAdmitted);
    const AdmitResult r = admit(t, 200, "198.51.100.7", 2, 3);
    CPPUNIT_ASSERT(r.admission == Admission::kEvicting);
    CPPUNIT_ASSERT_EQUAL(pid_t{101}, r.victim);
    // The victim logs in before it sees the request (the signal is still
    // on its way): it must not be cut, and the newcomer must not get in.
    t.mark_logged_in(101);
    CPPUNIT_ASSERT(t.handover_state(200, r.slot) == Handover::kRefused);
    CPPUNIT_ASSERT(t.yield_if_asked(101) == Yield::kStay);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, t.active());
    // Asked again, the newcomer takes the other session's slot.
    const AdmitResult again = admit(t, 200, "198.51.100.7", 2, 4);
    CPPUNIT_ASSERT(again.admission == Admission::kEvicting);
    CPPUNIT_ASSERT_EQUAL(pid_t{102}, again.victim);
    CPPUNIT_ASSERT(t.yield_if_asked(102) == Yield::kYielded);
    CPPUNIT_ASSERT(t.handover_state(200, again.slot) == Handover::kDone);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, t.active());
    // 101 ends later: its slot is simply free.
    t.end_session(101);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, t.active());
  }

  void victim_ending_on_its_own_hands_the_slot_over() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(admit(t, 101, "192.0.2.1", 1, 1).admission == Admission::kAdmitted);
    const AdmitResult r = admit(t, 200, "198.51.100.7", 1, 2);
    CPPUNIT_ASSERT(r.admission == Admission::kEvicting);
    // The victim timed out (or quit) before it saw the request.
    { ConnectionSlot slot(&t, 101); }
    CPPUNIT_ASSERT(t.handover_state(200, r.slot) == Handover::kDone);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, t.active());
    CPPUNIT_ASSERT(t.yield_if_asked(101) == Yield::kStay);
    { ConnectionSlot slot(&t, 200); }
    CPPUNIT_ASSERT_EQUAL(size_t{0}, t.active());
  }

  void withdrawn_claim_leaves_the_victim_its_slot() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(admit(t, 101, "192.0.2.1", 2, 1).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 102, "192.0.2.2", 2, 2).admission == Admission::kAdmitted);
    const AdmitResult r = admit(t, 200, "198.51.100.7", 2, 3);
    CPPUNIT_ASSERT_EQUAL(pid_t{101}, r.victim);
    // The victim did not answer in time: the newcomer gives up on it...
    CPPUNIT_ASSERT(t.cancel_handover(200, r.slot) == Handover::kRefused);
    CPPUNIT_ASSERT(t.yield_if_asked(101) == Yield::kStay);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, t.active());
    // ...and asks another, sparing the one that did not answer.
    const AdmitResult other = admit(t, 200, "198.51.100.7", 2, 4, 0, {101});
    CPPUNIT_ASSERT(other.admission == Admission::kEvicting);
    CPPUNIT_ASSERT_EQUAL(pid_t{102}, other.victim);
    CPPUNIT_ASSERT(t.yield_if_asked(102) == Yield::kYielded);
    // Giving up after the handover happened keeps the slot.
    CPPUNIT_ASSERT(t.cancel_handover(200, other.slot) == Handover::kDone);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, t.active());
    // With everyone spared, there is nobody to evict.
    CPPUNIT_ASSERT(admit(t, 201, "198.51.100.8", 2, 5, 0, {101, 200}).admission ==
                   Admission::kTooManyConnections);
  }

  void dead_workers_neither_keep_claims_nor_lose_slots() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(admit(t, 101, "192.0.2.1", 2, 1).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 102, "192.0.2.2", 2, 2).admission == Admission::kAdmitted);
    const AdmitResult r = admit(t, 200, "198.51.100.7", 2, 3);
    CPPUNIT_ASSERT_EQUAL(pid_t{101}, r.victim);
    // The victim's worker dies: the master's release hands its slot on.
    CPPUNIT_ASSERT(t.release(101) == TableAccess::kDone);
    CPPUNIT_ASSERT(t.handover_state(200, r.slot) == Handover::kDone);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, t.active());
    // A newcomer dies while it waits: its claim goes, the victim stays.
    const AdmitResult r2 = admit(t, 201, "198.51.100.8", 2, 4);
    CPPUNIT_ASSERT_EQUAL(pid_t{102}, r2.victim);
    CPPUNIT_ASSERT(t.release(201) == TableAccess::kDone);
    CPPUNIT_ASSERT(t.yield_if_asked(102) == Yield::kStay);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, t.active());
    // 102 can be asked again by someone else.
    CPPUNIT_ASSERT(admit(t, 202, "198.51.100.9", 2, 5).victim == 102);
  }

  void unsignallable_pids_are_never_victims() {
    ConnectionTable t = table();
    // A subverted worker could write such pids: kill(-1) or kill(0) would
    // reach far more than one worker, and 1 is init.
    CPPUNIT_ASSERT(admit(t, 1, "192.0.2.1", 3, 1).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, -1, "192.0.2.1", 3, 2).admission == Admission::kAdmitted);
    CPPUNIT_ASSERT(admit(t, 103, "192.0.2.2", 3, 3).admission == Admission::kAdmitted);
    const AdmitResult r = admit(t, 200, "198.51.100.7", 3, 4);
    CPPUNIT_ASSERT(r.admission == Admission::kEvicting);
    CPPUNIT_ASSERT_EQUAL(pid_t{103}, r.victim);
    CPPUNIT_ASSERT(admit(t, 201, "198.51.100.8", 3, 5).admission == Admission::kTooManyConnections);
  }

  void plain_admit_never_evicts() {
    ConnectionTable t = table();
    CPPUNIT_ASSERT(t.admit(101, ip("192.0.2.1"), 1, 0) == Admission::kAdmitted);
    CPPUNIT_ASSERT(t.admit(102, ip("192.0.2.2"), 1, 0) == Admission::kTooManyConnections);
    CPPUNIT_ASSERT(t.yield_if_asked(101) == Yield::kStay);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, t.active());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ConnectionEvictionTest);

}  // namespace pop3d
