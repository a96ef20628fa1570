#include <cppunit/extensions/HelperMacros.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "log/logger.hpp"
#include "maildir_test_util.hpp"
#include "mailstore/maildir_index.hpp"
#include "mailstore/maildir_quota.hpp"
#include "mailstore/maildir_store.hpp"

namespace pop3d {

using testing::exists;
using testing::make_maildir;
using testing::read_all;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

namespace {

template <typename T>
std::string join(const std::vector<T>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ' ';
    if constexpr (std::is_same_v<T, std::string>)
      out += item;
    else
      out += std::to_string(item);
  }
  return out;
}

// CppUnit cannot print vectors; compare them as space-joined strings.
#define ASSERT_SEQ(expected, actual) CPPUNIT_ASSERT_EQUAL(join(expected), join(actual))

UserRecord user_at(const std::string& maildir) {
  UserRecord u;
  u.name = "alice";
  u.maildir = maildir;
  return u;
}

std::unique_ptr<Maildrop> open_ok(const std::string& maildir,
                                  SharedStorage shared = SharedStorage::kAuto) {
  MaildirStore store({}, shared);
  OpenOutcome out = store.open(user_at(maildir));
  CPPUNIT_ASSERT_MESSAGE(out.reason, out.status == OpenStatus::kOk);
  CPPUNIT_ASSERT(out.maildrop != nullptr);
  return std::move(out.maildrop);
}

std::vector<std::string> uidls(const Maildrop& drop) {
  std::vector<std::string> out;
  for (size_t i = 0; i < drop.count(); ++i) out.push_back(drop.info(i).uidl);
  return out;
}

std::vector<uint64_t> sizes(const Maildrop& drop) {
  std::vector<uint64_t> out;
  for (size_t i = 0; i < drop.count(); ++i) out.push_back(drop.info(i).size);
  return out;
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string message_text(Maildrop& drop, size_t i) {
  auto fd = drop.open_message(i);
  CPPUNIT_ASSERT_MESSAGE(fd.ok() ? "" : fd.error().message, fd.ok());
  return read_all(fd->get());
}

}  // namespace

class MaildirStoreTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MaildirStoreTest);
  CPPUNIT_TEST(missing_maildir_is_created_empty);
  CPPUNIT_TEST(maildir_that_is_a_file_is_perm_fail);
  CPPUNIT_TEST(unreadable_maildir_is_perm_fail);
  CPPUNIT_TEST(new_mail_moves_to_cur_at_commit);
  CPPUNIT_TEST(dropped_session_leaves_new_untouched);
  CPPUNIT_TEST(settled_folders_let_the_index_stand_for_the_listing);
  CPPUNIT_TEST(a_change_after_the_index_is_seen);
  CPPUNIT_TEST(same_tick_change_is_not_missed);
  CPPUNIT_TEST(commit_records_fresh_folders_without_waiting);
  CPPUNIT_TEST(commit_keeps_the_stamp_of_a_folder_it_left_alone);
  CPPUNIT_TEST(delivery_in_the_same_tick_as_quit_is_seen);
  CPPUNIT_TEST(shared_storage_lists_whatever_the_folder_times_say);
  CPPUNIT_TEST(change_right_after_commit_is_seen);
  CPPUNIT_TEST(quit_vouches_for_a_fresh_listing);
  CPPUNIT_TEST(mail_delivered_during_session_is_not_vouched_for);
  CPPUNIT_TEST(folders_stamped_in_the_future_are_not_vouched_for);
  CPPUNIT_TEST(sizes_count_crlf_line_ends);
  CPPUNIT_TEST(w_field_is_used_without_reading);
  CPPUNIT_TEST(messages_are_in_delivery_order);
  CPPUNIT_TEST(only_regular_files_in_cur_and_new_count);
  CPPUNIT_TEST(uidl_stable_across_reopen_and_flag_rename);
  CPPUNIT_TEST(uidls_are_valid_and_unique);
  CPPUNIT_TEST(duplicate_base_names_give_one_message);
  CPPUNIT_TEST(second_session_is_in_use);
  CPPUNIT_TEST(lock_held_by_other_process_and_freed_by_its_death);
  CPPUNIT_TEST(mail_arriving_during_session_waits);
  CPPUNIT_TEST(commit_removes_only_flagged);
  CPPUNIT_TEST(commit_tolerates_gone_and_renamed_files);
  CPPUNIT_TEST(no_commit_removes_nothing);
  CPPUNIT_TEST(second_open_reads_no_message_file);
  CPPUNIT_TEST(corrupt_index_is_rebuilt);
  CPPUNIT_TEST(older_index_version_is_rebuilt_quietly);
  CPPUNIT_TEST(stale_index_entries_are_dropped);
  CPPUNIT_TEST(vanished_message_is_an_error);
  CPPUNIT_TEST(renamed_message_still_opens);
  CPPUNIT_TEST(retrieved_messages_are_flagged_seen_at_commit);
  CPPUNIT_TEST(seen_flag_joins_flags_set_meanwhile);
  CPPUNIT_TEST(retrieved_flags_must_match_the_maildrop);
  CPPUNIT_TEST(removals_are_recorded_in_maildirsize);
  CPPUNIT_TEST(no_maildirsize_none_made);
  CPPUNIT_TEST_SUITE_END();

 public:
  void missing_maildir_is_created_empty() {
    TempDir dir;
    const std::string maildir = dir / "home/alice/Maildir";
    auto drop = open_ok(maildir);
    CPPUNIT_ASSERT_EQUAL(size_t{0}, drop->count());
    for (const char* sub : {"cur", "new", "tmp"}) {
      struct stat st;
      CPPUNIT_ASSERT_EQUAL(0, ::stat((maildir + "/" + sub).c_str(), &st));
      CPPUNIT_ASSERT(S_ISDIR(st.st_mode));
      CPPUNIT_ASSERT_EQUAL(0700, static_cast<int>(st.st_mode & 0777));
    }
    // A maildir missing only cur/ gets it back too.
    drop.reset();
    std::filesystem::remove(maildir + "/cur");
    drop = open_ok(maildir);
    CPPUNIT_ASSERT(exists(maildir + "/cur"));
  }

  void maildir_that_is_a_file_is_perm_fail() {
    TempDir dir;
    write_file(dir / "Maildir", "not a directory");
    MaildirStore store;
    OpenOutcome out = store.open(user_at(dir / "Maildir"));
    CPPUNIT_ASSERT(out.status == OpenStatus::kPermFail);
    CPPUNIT_ASSERT(out.maildrop == nullptr);
    CPPUNIT_ASSERT(!out.reason.empty());
    CPPUNIT_ASSERT(store.open(user_at("")).status == OpenStatus::kPermFail);
  }

  void unreadable_maildir_is_perm_fail() {
    TempDir dir;
    make_maildir(dir / "Maildir");
    ::chmod((dir / "Maildir").c_str(), 0);
    // Root reads anything, so the open runs in a child that is "nobody".
    int result[2];
    CPPUNIT_ASSERT_EQUAL(0, ::pipe(result));
    const pid_t child = ::fork();
    CPPUNIT_ASSERT(child >= 0);
    if (child == 0) {
      ::close(result[0]);
      constexpr uid_t kNobody = 65534;
      if (::geteuid() == 0 && (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)) ::_exit(1);
      MaildirStore store;
      const char status =
          static_cast<char>('0' + static_cast<int>(store.open(user_at(dir / "Maildir")).status));
      ::_exit(::write(result[1], &status, 1) == 1 ? 0 : 1);
    }
    ::close(result[1]);
    char status = 0;
    const ssize_t got = ::read(result[0], &status, 1);
    ::close(result[0]);
    int wstatus = 0;
    ::waitpid(child, &wstatus, 0);
    ::chmod((dir / "Maildir").c_str(), 0700);  // so TempDir can clean up as any user
    CPPUNIT_ASSERT_EQUAL(ssize_t{1}, got);
    CPPUNIT_ASSERT_EQUAL('0' + static_cast<int>(OpenStatus::kPermFail), static_cast<int>(status));
  }

  void new_mail_moves_to_cur_at_commit() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "new/1000.a.host", "Subject: a\n\nbody\n");
    write_file(dir / "new/1001.b.host", "b\n");
    write_file(dir / "new/1002.c.host:2,S", "c\n");  // already has its info suffix
    auto drop = open_ok(dir.path());
    CPPUNIT_ASSERT_EQUAL(size_t{3}, drop->count());
    // Nothing moves before the session ends...
    CPPUNIT_ASSERT(files_in(dir / "cur").empty());
    CPPUNIT_ASSERT_EQUAL(size_t{3}, files_in(dir / "new").size());
    CPPUNIT_ASSERT_EQUAL(std::string("1000.a.host"), drop->info(0).uidl);
    CPPUNIT_ASSERT_EQUAL(std::string("Subject: a\n\nbody\n"), message_text(*drop, 0));
    // ... and at QUIT the kept ones move, the deleted one is gone.
    auto stats = drop->commit({false, true, false});
    CPPUNIT_ASSERT(stats.ok());
    CPPUNIT_ASSERT_EQUAL(1u, stats->deleted);
    CPPUNIT_ASSERT(files_in(dir / "new").empty());
    ASSERT_SEQ((std::vector<std::string>{"1000.a.host:2,", "1002.c.host:2,S"}),
               files_in(dir / "cur"));
    drop.reset();
    // The index followed the move: the next session opens them in cur/.
    drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<std::string>{"1000.a.host", "1002.c.host"}), uidls(*drop));
    CPPUNIT_ASSERT_EQUAL(std::string("c\n"), message_text(*drop, 1));
  }

  void dropped_session_leaves_new_untouched() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "new/1.a", "a\n");
    write_file(dir / "cur/2.b:2,", "b\n");
    {
      auto drop = open_ok(dir.path());
      CPPUNIT_ASSERT_EQUAL(size_t{2}, drop->count());
      CPPUNIT_ASSERT_EQUAL(std::string("a\n"), message_text(*drop, 0));
    }  // no commit: the connection dropped
    ASSERT_SEQ(std::vector<std::string>{"1.a"}, files_in(dir / "new"));
    ASSERT_SEQ(std::vector<std::string>{"2.b:2,"}, files_in(dir / "cur"));
    // The next session sees it where it is, and moves it at its QUIT.
    auto drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<std::string>{"1.a", "2.b"}), uidls(*drop));
    CPPUNIT_ASSERT(drop->commit({false, false}).ok());
    CPPUNIT_ASSERT(files_in(dir / "new").empty());
    ASSERT_SEQ((std::vector<std::string>{"1.a:2,", "2.b:2,"}), files_in(dir / "cur"));
  }

  // Sets both folders' mtimes `seconds_ago` in the past, as if nobody had
  // touched them since.
  static void age_folders(const TempDir& dir, int seconds_ago) {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    const timespec times[2] = {{now.tv_sec - seconds_ago, 0}, {now.tv_sec - seconds_ago, 0}};
    for (const char* sub : {"cur", "new"})
      CPPUNIT_ASSERT_EQUAL(0, ::utimensat(AT_FDCWD, (dir / sub).c_str(), times, 0));
  }

  static struct stat stat_of(const std::string& path) {
    struct stat st {};
    CPPUNIT_ASSERT_EQUAL(0, ::stat(path.c_str(), &st));
    return st;
  }

  // Puts a folder's mtime back to what `before` says: a change the
  // folder's stamp cannot show (same mtime tick).
  static void restore_mtime(const std::string& path, const struct stat& before) {
    const timespec times[2] = {before.st_atim, before.st_mtim};
    CPPUNIT_ASSERT_EQUAL(0, ::utimensat(AT_FDCWD, path.c_str(), times, 0));
  }

  static DirStamps index_stamps(const TempDir& dir) {
    UniqueFd root(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    MaildirIndex index = MaildirIndex::load(root.get());
    CPPUNIT_ASSERT(index.state() == MaildirIndex::State::kLoaded);
    return index.stamps();
  }

  void settled_folders_let_the_index_stand_for_the_listing() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    write_file(dir / "new/2.b", "bb\n");
    age_folders(dir, 10);
    { auto drop = open_ok(dir.path()); }
    CPPUNIT_ASSERT(index_stamps(dir).known());
    // A file slipped in without the folder's stamp moving: only a session
    // that did not list cur/ misses it, which proves the fast path ran.
    const struct stat cur_before = stat_of(dir / "cur");
    write_file(dir / "cur/3.hidden:2,", "c\n");
    restore_mtime(dir / "cur", cur_before);
    auto drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<std::string>{"1.a", "2.b"}), uidls(*drop));
    ASSERT_SEQ((std::vector<uint64_t>{3, 4}), sizes(*drop));
    // Opened where the index says, in new/ or cur/.
    CPPUNIT_ASSERT_EQUAL(std::string("bb\n"), message_text(*drop, 1));
  }

  void a_change_after_the_index_is_seen() {
    for (const char* change : {"add-cur", "add-new", "remove-cur", "remove-new", "flag"}) {
      TempDir dir;
      make_maildir(dir.path());
      write_file(dir / "cur/1.a:2,", "a\n");
      write_file(dir / "new/2.b", "b\n");
      age_folders(dir, 10);
      { auto drop = open_ok(dir.path()); }
      CPPUNIT_ASSERT_MESSAGE(change, index_stamps(dir).known());
      const std::string c = change;
      std::vector<std::string> expected = {"1.a", "2.b"};
      if (c == "add-cur") {
        write_file(dir / "cur/3.c:2,", "c\n");
        expected.push_back("3.c");
      } else if (c == "add-new") {
        write_file(dir / "new/3.c", "c\n");
        expected.push_back("3.c");
      } else if (c == "remove-cur") {
        std::filesystem::remove(dir / "cur/1.a:2,");
        expected = {"2.b"};
      } else if (c == "remove-new") {
        std::filesystem::remove(dir / "new/2.b");
        expected = {"1.a"};
      } else {
        std::filesystem::rename(dir / "cur/1.a:2,", dir / "cur/1.a:2,S");
      }
      auto drop = open_ok(dir.path());
      CPPUNIT_ASSERT_EQUAL_MESSAGE(c, join(expected), join(uidls(*drop)));
      for (size_t i = 0; i < drop->count(); ++i)
        CPPUNIT_ASSERT_MESSAGE(c, drop->open_message(i).ok());
      drop.reset();
      // Written again from this listing at the session's end: the changed
      // folder is fresh (it changed within the settle time), the other
      // keeps its stamp.
      const bool in_cur = c != "add-new" && c != "remove-new";
      const DirStamps after = index_stamps(dir);
      CPPUNIT_ASSERT_MESSAGE(c, (in_cur ? after.cur_ns : after.new_ns) == 0);
      CPPUNIT_ASSERT_MESSAGE(c, (in_cur ? after.new_ns == folder_stamps(dir).new_ns
                                        : after.cur_ns == folder_stamps(dir).cur_ns));
    }
  }

  void same_tick_change_is_not_missed() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    age_folders(dir, 10);
    write_file(dir / "new/2.b", "b\n");  // new/ touched just now
    { auto drop = open_ok(dir.path()); }
    // new/ changed less than the settle time before the listing: its stamp
    // could stay the same through another change in the same tick, so the
    // index does not vouch for new/; cur/ had settled, so it does for cur/.
    CPPUNIT_ASSERT_EQUAL(int64_t{0}, index_stamps(dir).new_ns);
    CPPUNIT_ASSERT_EQUAL(folder_stamps(dir).cur_ns, index_stamps(dir).cur_ns);
    const struct stat new_before = stat_of(dir / "new");
    write_file(dir / "new/3.c", "c\n");
    restore_mtime(dir / "new", new_before);  // the same tick
    auto drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<std::string>{"1.a", "2.b", "3.c"}), uidls(*drop));
  }

  static DirStamps folder_stamps(const TempDir& dir) {
    auto ns = [](const struct stat& st) {
      return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    };
    return DirStamps{ns(stat_of(dir / "cur")), ns(stat_of(dir / "new"))};
  }

  // Files slipped into cur/ and new/ without either folder's stamp moving:
  // only a session that lists neither folder misses them.
  static void hide_files(const TempDir& dir) {
    const struct stat cur_before = stat_of(dir / "cur");
    const struct stat new_before = stat_of(dir / "new");
    write_file(dir / "cur/9.hidden:2,", "h\n");
    write_file(dir / "new/9.hidden2", "h\n");
    restore_mtime(dir / "cur", cur_before);
    restore_mtime(dir / "new", new_before);
  }

  void commit_records_fresh_folders_without_waiting() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    write_file(dir / "cur/2.b:2,", "b\n");
    write_file(dir / "new/3.c", "c\n");
    age_folders(dir, 10);
    { auto drop = open_ok(dir.path()); }
    CPPUNIT_ASSERT(index_stamps(dir) == folder_stamps(dir));
    {
      auto drop = open_ok(dir.path());
      // Deletes from cur/ and moves new/ to cur/: both folders change now.
      CPPUNIT_ASSERT(drop->commit({true, false, false}).ok());
    }
    // Both mtimes are within a tick of the commit: it records both folders
    // as fresh instead of waiting until they could be trusted.
    CPPUNIT_ASSERT(index_stamps(dir) == DirStamps{});
    hide_files(dir);
    auto drop = open_ok(dir.path());
    // Both listed: the files slipped in in the same tick are there, the
    // moved one is in cur/ with the size the index kept.
    ASSERT_SEQ((std::vector<std::string>{"2.b", "3.c", "9.hidden", "9.hidden2"}), uidls(*drop));
    ASSERT_SEQ((std::vector<uint64_t>{3, 3, 3, 3}), sizes(*drop));
    CPPUNIT_ASSERT_EQUAL(std::string("c\n"), message_text(*drop, 1));
    CPPUNIT_ASSERT(exists(dir / "cur/3.c:2,"));
  }

  void commit_keeps_the_stamp_of_a_folder_it_left_alone() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    write_file(dir / "cur/2.b:2,", "bb\n");
    age_folders(dir, 10);
    { auto drop = open_ok(dir.path()); }
    const DirStamps settled = folder_stamps(dir);
    CPPUNIT_ASSERT(index_stamps(dir) == settled);
    {
      auto drop = open_ok(dir.path());
      CPPUNIT_ASSERT(drop->commit({true, false}).ok());  // cur/ only
    }
    // new/ did not move: still vouched for, with no listing at QUIT.
    CPPUNIT_ASSERT_EQUAL(int64_t{0}, index_stamps(dir).cur_ns);
    CPPUNIT_ASSERT_EQUAL(settled.new_ns, index_stamps(dir).new_ns);
    // The next login lists cur/ only: a file slipped into cur/ in the same
    // tick shows, one slipped into new/ without moving its stamp does not,
    // which proves new/ came from the index.
    hide_files(dir);
    auto drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<std::string>{"2.b", "9.hidden"}), uidls(*drop));
    ASSERT_SEQ((std::vector<uint64_t>{4, 3}), sizes(*drop));
    CPPUNIT_ASSERT_EQUAL(std::string("bb\n"), message_text(*drop, 0));
  }

  // A delivery, as an MTA makes it: written in tmp/, renamed into new/.
  static void deliver(const TempDir& dir, const std::string& name, const std::string& text) {
    write_file(dir / ("tmp/" + name), text);
    std::filesystem::rename(dir / ("tmp/" + name), dir / ("new/" + name));
  }

  void delivery_in_the_same_tick_as_quit_is_seen() {
    for (const char* kind : {"moved", "deleted"}) {
      const std::string k = kind;
      TempDir dir;
      make_maildir(dir.path());
      write_file(dir / "cur/1.a:2,", "a\n");
      write_file(dir / "new/2.b", "b\n");
      age_folders(dir, 10);
      { auto drop = open_ok(dir.path()); }
      CPPUNIT_ASSERT_MESSAGE(k, index_stamps(dir) == folder_stamps(dir));
      {
        // The poll: new/2.b is RETRieved and kept (moved to cur/) or deleted.
        auto drop = open_ok(dir.path());
        CPPUNIT_ASSERT_MESSAGE(k, drop->commit({false, k == "deleted"}).ok());
      }
      // new/ as the QUIT left it, then a delivery that lands in the same
      // timestamp tick: new/'s mtime ends exactly where it was.
      const struct stat new_at_quit = stat_of(dir / "new");
      CPPUNIT_ASSERT_EQUAL_MESSAGE(k, int64_t{0}, index_stamps(dir).new_ns);
      deliver(dir, "3.c", "ccc\n");
      restore_mtime(dir / "new", new_at_quit);
      auto drop = open_ok(dir.path());
      const std::vector<std::string> expected = k == "moved"
                                                    ? std::vector<std::string>{"1.a", "2.b", "3.c"}
                                                    : std::vector<std::string>{"1.a", "3.c"};
      CPPUNIT_ASSERT_EQUAL_MESSAGE(k, join(expected), join(uidls(*drop)));
      CPPUNIT_ASSERT_EQUAL_MESSAGE(k, std::string("ccc\n"),
                                   message_text(*drop, expected.size() - 1));
    }
  }

  // Another node's delivery, seen through this node's attribute cache: the
  // listing shows the file, new/'s mtime still shows the old time.
  void shared_storage_lists_whatever_the_folder_times_say() {
    for (const SharedStorage shared : {SharedStorage::kYes, SharedStorage::kNo}) {
      const bool yes = shared == SharedStorage::kYes;
      TempDir dir;
      make_maildir(dir.path());
      write_file(dir / "cur/1.a:2,", "a\n");
      age_folders(dir, 10);
      { auto drop = open_ok(dir.path(), shared); }
      // Shared: the index records no folder time it could be trusted by.
      CPPUNIT_ASSERT_EQUAL(yes, index_stamps(dir) == DirStamps{});
      const struct stat new_before = stat_of(dir / "new");
      deliver(dir, "2.b", "b\n");
      restore_mtime(dir / "new", new_before);
      auto drop = open_ok(dir.path(), shared);
      // A local disk never reports an old time after a change, so there the
      // index may stand in for the listing; this shows that it does, and
      // that shared storage does not let it.
      CPPUNIT_ASSERT_EQUAL(std::string(yes ? "1.a 2.b" : "1.a"), join(uidls(*drop)));
    }
  }

  void change_right_after_commit_is_seen() {
    for (const char* change : {"add-cur", "add-new", "remove", "flag"}) {
      TempDir dir;
      make_maildir(dir.path());
      write_file(dir / "cur/1.a:2,", "a\n");
      write_file(dir / "cur/2.b:2,", "b\n");
      write_file(dir / "new/3.c", "c\n");
      {
        auto drop = open_ok(dir.path());
        CPPUNIT_ASSERT(drop->commit({true, false, false}).ok());
      }
      const std::string c = change;
      // Both folders changed at QUIT: fresh, the next login lists them.
      CPPUNIT_ASSERT_MESSAGE(c, index_stamps(dir) == DirStamps{});
      // Right after the QUIT, within the same second and without touching
      // the stamps by hand.
      std::vector<std::string> expected = {"2.b", "3.c"};
      if (c == "add-cur") {
        write_file(dir / "cur/4.d:2,", "d\n");
        expected.push_back("4.d");
      } else if (c == "add-new") {
        write_file(dir / "new/4.d", "d\n");
        expected.push_back("4.d");
      } else if (c == "remove") {
        std::filesystem::remove(dir / "cur/3.c:2,");
        expected = {"2.b"};
      } else {
        std::filesystem::rename(dir / "cur/2.b:2,", dir / "cur/2.b:2,S");
      }
      CPPUNIT_ASSERT_MESSAGE(c, !(index_stamps(dir) == folder_stamps(dir)));
      auto drop = open_ok(dir.path());
      CPPUNIT_ASSERT_EQUAL_MESSAGE(c, join(expected), join(uidls(*drop)));
      for (size_t i = 0; i < drop->count(); ++i)
        CPPUNIT_ASSERT_MESSAGE(c, drop->open_message(i).ok());
    }
  }

  void quit_vouches_for_a_fresh_listing() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    write_file(dir / "cur/2.b:2,", "b\n");
    write_file(dir / "new/gone", "x\n");
    std::filesystem::remove(dir / "new/gone");
    {
      // Folders changed just now: the login's listing is recorded fresh,
      // when the session ends.
      auto drop = open_ok(dir.path());
      CPPUNIT_ASSERT(!exists(dir / "pop3d.index"));  // not before the end
      ::usleep(60'000);                              // past the commit's settle margin
    }
    // A session that ends without QUIT changes nothing, index included.
    CPPUNIT_ASSERT(index_stamps(dir) == DirStamps{});
    {
      auto drop = open_ok(dir.path());
      CPPUNIT_ASSERT(index_stamps(dir) == DirStamps{});  // still within a second
      ::usleep(60'000);
      // Changes nothing: the QUIT lists both folders, now settled, and
      // vouches for them.
      CPPUNIT_ASSERT(drop->commit({false, false}).ok());
    }
    CPPUNIT_ASSERT(index_stamps(dir) == folder_stamps(dir));
    hide_files(dir);
    auto drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<std::string>{"1.a", "2.b"}), uidls(*drop));
  }

  void mail_delivered_during_session_is_not_vouched_for() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    {
      auto drop = open_ok(dir.path());
      write_file(dir / "new/2.late", "late\n");
      CPPUNIT_ASSERT(drop->commit({false}).ok());
    }
    // The listing after the commit holds a message the snapshot does not
    // know (and could not size): no stamps, the next login lists.
    CPPUNIT_ASSERT(!index_stamps(dir).known());
    auto drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<std::string>{"1.a", "2.late"}), uidls(*drop));
  }

  void folders_stamped_in_the_future_are_not_vouched_for() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    // A clock that went back, or a file server ahead of us: waiting for the
    // clock to pass the stamps could take any time, so the commit does not.
    // The stamps are a day ahead, so a commit that waited would still be
    // waiting when the child's alarm ends it a minute later; a commit waits
    // 50 ms at most (kCommitSettleNs), which no machine stretches that far.
    constexpr unsigned kAlarmSeconds = 60;
    const pid_t child = ::fork();
    CPPUNIT_ASSERT(child >= 0);
    if (child == 0) {
      ::alarm(kAlarmSeconds);
      MaildirStore store;
      OpenOutcome out = store.open(user_at(dir.path()));
      if (out.status != OpenStatus::kOk) ::_exit(2);
      timespec now{};
      ::clock_gettime(CLOCK_REALTIME, &now);
      const timespec future[2] = {{now.tv_sec + 86400, 0}, {now.tv_sec + 86400, 0}};
      for (const char* sub : {"cur", "new"})
        if (::utimensat(AT_FDCWD, (dir / sub).c_str(), future, 0) != 0) ::_exit(3);
      const bool committed = out.maildrop->commit({false}).ok();
      out.maildrop.reset();
      ::_exit(committed ? 0 : 4);
    }
    int wstatus = 0;
    CPPUNIT_ASSERT_EQUAL(child, ::waitpid(child, &wstatus, 0));
    CPPUNIT_ASSERT_MESSAGE(
        "the commit was still waiting for the clock after " + std::to_string(kAlarmSeconds) + " s",
        !(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGALRM));
    CPPUNIT_ASSERT_MESSAGE("child ended with status " + std::to_string(wstatus),
                           WIFEXITED(wstatus));
    // 2: open failed, 3: utimensat failed, 4: the commit failed.
    CPPUNIT_ASSERT_EQUAL(0, WEXITSTATUS(wstatus));
    CPPUNIT_ASSERT(!index_stamps(dir).known());
  }

  void sizes_count_crlf_line_ends() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.lf:2,", "a\nbc\n");           // 5 + 2
    write_file(dir / "cur/2.crlf:2,", "a\r\nbc\r\n");     // 7
    write_file(dir / "cur/3.mixed:2,", "a\r\nb\nc\r\n");  // 8 + 1
    write_file(dir / "cur/4.nofinal:2,", "a\nbc");        // 4 + 1 + 2
    write_file(dir / "cur/5.empty:2,", "");               // 0
    auto drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<uint64_t>{7, 7, 9, 7, 0}), sizes(*drop));
    // Only the pure CRLF file can go out unchanged.
    CPPUNIT_ASSERT(!drop->info(0).plain_sendable);
    CPPUNIT_ASSERT(drop->info(1).plain_sendable);
    CPPUNIT_ASSERT(!drop->info(2).plain_sendable);
    CPPUNIT_ASSERT(!drop->info(3).plain_sendable);
  }

  void w_field_is_used_without_reading() {
    TempDir dir;
    make_maildir(dir.path());
    // The W= value disagrees with the content on purpose: only a size taken
    // from the name gives 999.
    write_file(dir / "cur/1700000000.M1P2.host,S=3,W=999:2,S", "abc");
    write_file(dir / "new/1700000001.M1P2.host,S=4", "ab\n\n");
    auto drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<uint64_t>{999, 6}), sizes(*drop));
  }

  void messages_are_in_delivery_order() {
    TempDir dir;
    make_maildir(dir.path());
    for (const char* name : {"20.b:2,", "3.b:2,S", "100.c:2,", "3.a:2,", "x.noprefix:2,"})
      write_file(dir / (std::string("cur/") + name), "x\n");
    write_file(dir / "new/50.n", "x\n");
    auto drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<std::string>{"3.a", "3.b", "20.b", "50.n", "100.c", "x.noprefix"}),
               uidls(*drop));
  }

  void only_regular_files_in_cur_and_new_count() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.real:2,", "x\n");
    write_file(dir / "new/2.real", "x\n");
    write_file(dir / "tmp/3.inflight", "x\n");
    write_file(dir / "cur/.hidden", "x\n");
    write_file(dir / "new/.hidden", "x\n");
    std::filesystem::create_directory(dir / "cur/4.dir:2,");
    std::filesystem::create_symlink(dir / "cur/1.real:2,", dir / "cur/5.link:2,");
    ::mkfifo((dir / "cur/6.fifo:2,").c_str(), 0600);
    auto drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<std::string>{"1.real", "2.real"}), uidls(*drop));
    CPPUNIT_ASSERT(exists(dir / "tmp/3.inflight"));
    CPPUNIT_ASSERT(exists(dir / "new/.hidden"));  // not moved
  }

  void uidl_stable_across_reopen_and_flag_rename() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "new/1.a", "x\n");
    write_file(dir / "new/2.b", "y\n");
    std::vector<std::string> first;
    {
      auto drop = open_ok(dir.path());
      first = uidls(*drop);
      CPPUNIT_ASSERT(drop->commit({false, false}).ok());  // moves them to cur/
    }
    CPPUNIT_ASSERT_EQUAL(size_t{2}, first.size());
    // Another client marks 1.a seen and 2.b replied.
    std::filesystem::rename(dir / "cur/1.a:2,", dir / "cur/1.a:2,S");
    std::filesystem::rename(dir / "cur/2.b:2,", dir / "cur/2.b:2,RS");
    auto drop = open_ok(dir.path());
    ASSERT_SEQ(first, uidls(*drop));
  }

  void uidls_are_valid_and_unique() {
    TempDir dir;
    make_maildir(dir.path());
    const std::string names[] = {"1.a b",
                                 "1.a%20b",
                                 "2.tab\there",
                                 "3.\xc3\xa9t\xc3\xa9",
                                 std::string(100, '4'),
                                 std::string(99, '4') + "5"};
    for (const auto& n : names) write_file(dir / ("cur/" + n + ":2,"), "x\n");
    auto drop = open_ok(dir.path());
    CPPUNIT_ASSERT_EQUAL(std::size(names), drop->count());
    std::set<std::string> seen;
    for (const auto& u : uidls(*drop)) {
      CPPUNIT_ASSERT(!u.empty() && u.size() <= 70);
      for (unsigned char c : u) CPPUNIT_ASSERT(c >= 0x21 && c <= 0x7E);
      CPPUNIT_ASSERT_MESSAGE(u, seen.insert(u).second);
    }
  }

  void duplicate_base_names_give_one_message() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "first\n");
    write_file(dir / "cur/1.a:2,S", "copy\n");
    write_file(dir / "cur/2.b:2,", "b\n");
    write_file(dir / "new/2.b", "would clobber\n");
    auto drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<std::string>{"1.a", "2.b"}), uidls(*drop));
    // The move never replaces a file already in cur/.
    CPPUNIT_ASSERT_EQUAL(std::string("b\n"), read_file(dir / "cur/2.b:2,"));
    CPPUNIT_ASSERT(exists(dir / "new/2.b"));
  }

  void second_session_is_in_use() {
    TempDir dir;
    make_maildir(dir.path());
    auto drop = open_ok(dir.path());
    MaildirStore other;
    OpenOutcome busy = other.open(user_at(dir.path()));
    CPPUNIT_ASSERT(busy.status == OpenStatus::kInUse);
    CPPUNIT_ASSERT(busy.maildrop == nullptr);
    drop.reset();  // the first session ends
    CPPUNIT_ASSERT(other.open(user_at(dir.path())).status == OpenStatus::kOk);
    struct stat st;
    CPPUNIT_ASSERT_EQUAL(0, ::stat((dir / "pop3d.lock").c_str(), &st));
    CPPUNIT_ASSERT_EQUAL(0600, static_cast<int>(st.st_mode & 0777));
  }

  void lock_held_by_other_process_and_freed_by_its_death() {
    TempDir dir;
    make_maildir(dir.path());
    int ready[2];
    CPPUNIT_ASSERT_EQUAL(0, ::pipe(ready));
    const pid_t child = ::fork();
    CPPUNIT_ASSERT(child >= 0);
    if (child == 0) {
      ::close(ready[0]);
      MaildirStore store;
      OpenOutcome out = store.open(user_at(dir.path()));
      const char status = out.status == OpenStatus::kOk ? 'y' : 'n';
      if (::write(ready[1], &status, 1) != 1) ::_exit(1);
      ::pause();  // hold the lock until killed
      ::_exit(0);
    }
    ::close(ready[1]);
    char status = 0;
    CPPUNIT_ASSERT_EQUAL(ssize_t{1}, ::read(ready[0], &status, 1));
    ::close(ready[0]);
    MaildirStore store;
    const OpenStatus while_held = store.open(user_at(dir.path())).status;
    // A crash (SIGKILL runs no destructor) must free the maildrop too.
    ::kill(child, SIGKILL);
    int wstatus = 0;
    ::waitpid(child, &wstatus, 0);
    CPPUNIT_ASSERT_EQUAL('y', status);
    CPPUNIT_ASSERT(while_held == OpenStatus::kInUse);
    CPPUNIT_ASSERT(store.open(user_at(dir.path())).status == OpenStatus::kOk);
  }

  void mail_arriving_during_session_waits() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "new/1.a", "x\n");
    auto drop = open_ok(dir.path());
    write_file(dir / "new/2.late", "late\n");
    CPPUNIT_ASSERT_EQUAL(size_t{1}, drop->count());
    auto stats = drop->commit({true});
    CPPUNIT_ASSERT(stats.ok());
    CPPUNIT_ASSERT(exists(dir / "new/2.late"));  // untouched
    drop.reset();
    drop = open_ok(dir.path());
    ASSERT_SEQ(std::vector<std::string>{"2.late"}, uidls(*drop));
  }

  void commit_removes_only_flagged() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "aaaa\n");    // 6
    write_file(dir / "cur/2.b:2,", "bb\n");      // 4
    write_file(dir / "cur/3.c:2,", "c\r\nc\n");  // 6
    auto drop = open_ok(dir.path());
    auto stats = drop->commit({true, false, true});
    CPPUNIT_ASSERT_MESSAGE(stats.ok() ? "" : stats.error().message, stats.ok());
    CPPUNIT_ASSERT_EQUAL(2u, stats->deleted);
    CPPUNIT_ASSERT_EQUAL(uint64_t{12}, stats->deleted_bytes);
    CPPUNIT_ASSERT_EQUAL(0u, stats->already_gone);
    ASSERT_SEQ(std::vector<std::string>{"2.b:2,"}, files_in(dir / "cur"));
    CPPUNIT_ASSERT(!drop->commit({true, false, true}).ok());  // only once
    drop.reset();
    drop = open_ok(dir.path());
    ASSERT_SEQ(std::vector<std::string>{"2.b"}, uidls(*drop));
    // The index lost the deleted entries too.
    UniqueFd root(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    MaildirIndex index = MaildirIndex::load(root.get());
    CPPUNIT_ASSERT(index.state() == MaildirIndex::State::kLoaded);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, index.size());
    CPPUNIT_ASSERT(index.find("2.b") != nullptr);
  }

  void commit_tolerates_gone_and_renamed_files() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    write_file(dir / "cur/2.b:2,", "b\n");
    write_file(dir / "cur/3.c:2,", "c\n");
    auto drop = open_ok(dir.path());
    CPPUNIT_ASSERT(drop->commit({true}).ok() == false);                // wrong flag count
    std::filesystem::remove(dir / "cur/1.a:2,");                       // another client
    std::filesystem::rename(dir / "cur/2.b:2,", dir / "cur/2.b:2,S");  // flag change
    auto stats = drop->commit({true, true, false});
    CPPUNIT_ASSERT(stats.ok());
    CPPUNIT_ASSERT_EQUAL(1u, stats->deleted);
    CPPUNIT_ASSERT_EQUAL(uint64_t{3}, stats->deleted_bytes);
    CPPUNIT_ASSERT_EQUAL(1u, stats->already_gone);
    ASSERT_SEQ(std::vector<std::string>{"3.c:2,"}, files_in(dir / "cur"));
  }

  void no_commit_removes_nothing() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    write_file(dir / "new/2.b", "b\n");
    { auto drop = open_ok(dir.path()); }
    ASSERT_SEQ((std::vector<std::string>{"1.a:2,"}), files_in(dir / "cur"));
    ASSERT_SEQ((std::vector<std::string>{"2.b"}), files_in(dir / "new"));
  }

  void second_open_reads_no_message_file() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "one\n");          // 5
    write_file(dir / "new/2.b", "two\r\nlines\r\n");  // 12
    std::vector<uint64_t> first;
    {
      auto drop = open_ok(dir.path());
      first = sizes(*drop);
    }
    ASSERT_SEQ((std::vector<uint64_t>{5, 12}), first);
    struct stat before;
    CPPUNIT_ASSERT_EQUAL(0, ::stat((dir / "pop3d.index").c_str(), &before));
    // Change every message behind the store's back (root ignores mode 000,
    // so change the bytes): sizes that still match came from the index.
    write_file(dir / "cur/1.a:2,", "much longer content now\n\n\n");
    write_file(dir / "new/2.b", "");
    for (const char* sub : {"cur", "new"})
      for (const auto& f : files_in(dir / sub))
        ::chmod((dir / (std::string(sub) + "/" + f)).c_str(), 0);
    auto drop = open_ok(dir.path());
    ASSERT_SEQ(first, sizes(*drop));
    CPPUNIT_ASSERT(drop->info(1).plain_sendable);
    // Nothing changed, so the index was not rewritten (a rewrite is a rename:
    // new inode).
    struct stat after;
    CPPUNIT_ASSERT_EQUAL(0, ::stat((dir / "pop3d.index").c_str(), &after));
    CPPUNIT_ASSERT_EQUAL(before.st_ino, after.st_ino);
  }

  void older_index_version_is_rebuilt_quietly() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "one\n");  // 5
    age_folders(dir, 10);
    const DirStamps folders = folder_stamps(dir);
    // Version 2, with stamps that match the folders and a size that is
    // wrong: neither may be believed.
    write_file(dir / "pop3d.index", "pop3d-index 2 1 " + std::to_string(folders.cur_ns) + " " +
                                        std::to_string(folders.new_ns) +
                                        " 0123456789abcdef\n12345 1 1.a:2,\n");
    const std::string log_path = dir / "log.txt";
    Logger& logger = Logger::instance();
    const LogLevel level = logger.level();
    CPPUNIT_ASSERT(logger.configure(log_path, LogLevel::kDebug).ok());
    std::unique_ptr<Maildrop> drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<uint64_t>{5}), sizes(*drop));
    drop.reset();
    CPPUNIT_ASSERT(logger.configure("stderr", level).ok());
    CPPUNIT_ASSERT_EQUAL(std::string(), read_file(log_path));  // no warning
    CPPUNIT_ASSERT(read_file(dir / "pop3d.index").starts_with("pop3d-index 3 1 "));
    CPPUNIT_ASSERT(index_stamps(dir) == folders);
  }

  void corrupt_index_is_rebuilt() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "one\n");  // 5
    { auto drop = open_ok(dir.path()); }
    const std::string good = read_file(dir / "pop3d.index");
    const std::string forged_body = "12345 1 1.a\n";
    const std::string damaged[] = {
        // A plausible index whose checksum does not match: its size is a lie.
        "pop3d-index 3 1 0 0 0000000000000000\n" + forged_body,
        good.substr(0, good.size() - 3),  // torn write
        std::string("\x00\xff garbage \x01", 12),
        std::string(100000, '\n'),
    };
    for (const auto& text : damaged) {
      write_file(dir / "pop3d.index", text);
      auto drop = open_ok(dir.path());
      ASSERT_SEQ(std::vector<uint64_t>{5}, sizes(*drop));
      CPPUNIT_ASSERT(!drop->info(0).plain_sendable);
      drop.reset();
      // Rewritten whole and valid, at the session's end.
      CPPUNIT_ASSERT_EQUAL(good, read_file(dir / "pop3d.index"));
    }
  }

  void stale_index_entries_are_dropped() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    write_file(dir / "cur/2.b:2,", "b\n");
    { auto drop = open_ok(dir.path()); }
    std::filesystem::remove(dir / "cur/1.a:2,");
    write_file(dir / "new/3.c", "cc\n");
    auto drop = open_ok(dir.path());
    ASSERT_SEQ((std::vector<std::string>{"2.b", "3.c"}), uidls(*drop));
    drop.reset();  // the index is written at the session's end
    UniqueFd root(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    MaildirIndex index = MaildirIndex::load(root.get());
    CPPUNIT_ASSERT(index.state() == MaildirIndex::State::kLoaded);
    CPPUNIT_ASSERT_EQUAL(size_t{2}, index.size());
    CPPUNIT_ASSERT(index.find("1.a") == nullptr);
    CPPUNIT_ASSERT_EQUAL(uint64_t{4}, index.find("3.c")->size);
  }

  void vanished_message_is_an_error() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    write_file(dir / "cur/2.b:2,", "b\n");
    auto drop = open_ok(dir.path());
    std::filesystem::remove(dir / "cur/1.a:2,");
    auto fd = drop->open_message(0);
    CPPUNIT_ASSERT(!fd.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("message vanished"), fd.error().message);
    CPPUNIT_ASSERT_EQUAL(std::string("b\n"), message_text(*drop, 1));  // the session goes on
  }

  void renamed_message_still_opens() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "hello\n");
    auto drop = open_ok(dir.path());
    std::filesystem::rename(dir / "cur/1.a:2,", dir / "cur/1.a:2,S");
    CPPUNIT_ASSERT_EQUAL(std::string("hello\n"), message_text(*drop, 0));
    auto stats = drop->commit({true});
    CPPUNIT_ASSERT(stats.ok());
    CPPUNIT_ASSERT_EQUAL(1u, stats->deleted);
    CPPUNIT_ASSERT(files_in(dir / "cur").empty());
  }

  void retrieved_messages_are_flagged_seen_at_commit() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1000.a:2,", "a\n");
    write_file(dir / "cur/1001.b:2,FT", "b\n");
    write_file(dir / "cur/1002.c:2,RS", "c\n");
    write_file(dir / "new/1003.d", "d\n");
    write_file(dir / "new/1004.e", "e\n");
    write_file(dir / "cur/1005.f:2,", "f\n");
    write_file(dir / "cur/1006.g:2,", "g\n");
    auto drop = open_ok(dir.path());
    const std::vector<std::string> before = uidls(*drop);
    CPPUNIT_ASSERT_EQUAL(size_t{7}, before.size());
    // Retrieved: a, b, c (seen already), d (still in new/), g (deleted as
    // well); not retrieved: e (new/), f.
    auto stats = drop->commit({false, false, false, false, false, false, true},
                              {true, true, true, true, false, false, true});
    CPPUNIT_ASSERT(stats.ok());
    CPPUNIT_ASSERT_EQUAL(1u, stats->deleted);
    CPPUNIT_ASSERT(files_in(dir / "new").empty());
    ASSERT_SEQ((std::vector<std::string>{"1000.a:2,S", "1001.b:2,FST", "1002.c:2,RS", "1003.d:2,S",
                                         "1004.e:2,", "1005.f:2,"}),
               files_in(dir / "cur"));
    drop.reset();
    // The renames keep every UIDL: the next session presents the same.
    drop = open_ok(dir.path());
    std::vector<std::string> kept = before;
    kept.pop_back();
    ASSERT_SEQ(kept, uidls(*drop));
    CPPUNIT_ASSERT_EQUAL(std::string("d\n"), message_text(*drop, 3));
  }

  void seen_flag_joins_flags_set_meanwhile() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    write_file(dir / "cur/2.b:2,", "b\n");
    auto drop = open_ok(dir.path());
    // An IMAP client answers one and reads the other during the session.
    std::filesystem::rename(dir / "cur/1.a:2,", dir / "cur/1.a:2,R");
    std::filesystem::rename(dir / "cur/2.b:2,", dir / "cur/2.b:2,S");
    CPPUNIT_ASSERT(drop->commit({false, false}, {true, true}).ok());
    ASSERT_SEQ((std::vector<std::string>{"1.a:2,RS", "2.b:2,S"}), files_in(dir / "cur"));
  }

  void retrieved_flags_must_match_the_maildrop() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a:2,", "a\n");
    auto drop = open_ok(dir.path());
    CPPUNIT_ASSERT(!drop->commit({false}, {true, true}).ok());
    ASSERT_SEQ(std::vector<std::string>{"1.a:2,"}, files_in(dir / "cur"));
  }

  void removals_are_recorded_in_maildirsize() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "maildirsize", "100000S\n1234 3\n");
    // S= is what Maildir++ counts where it is given; else the file's size
    // (LF line ends, not the CRLF size POP3 lists).
    write_file(dir / "cur/1.a,S=1000:2,", "a\n");
    write_file(dir / "new/2.b", "bb\nbb\n");
    write_file(dir / "cur/3.c:2,", "kept\n");
    write_file(dir / "cur/4.d,S=200:2,", "d\n");
    auto drop = open_ok(dir.path());
    // Another reader removes 4.d meanwhile: it is that reader's to count.
    std::filesystem::remove(dir / "cur/4.d,S=200:2,");
    auto stats = drop->commit({true, true, false, true});
    CPPUNIT_ASSERT(stats.ok());
    CPPUNIT_ASSERT_EQUAL(2u, stats->deleted);
    CPPUNIT_ASSERT_EQUAL(1u, stats->already_gone);
    CPPUNIT_ASSERT_EQUAL(std::string("100000S\n1234 3\n-1006 -2\n"),
                         read_file(dir / kMaildirSizeFile));
  }

  void no_maildirsize_none_made() {
    TempDir dir;
    make_maildir(dir.path());
    write_file(dir / "cur/1.a,S=1000:2,", "a\n");
    auto drop = open_ok(dir.path());
    CPPUNIT_ASSERT(drop->commit({true}).ok());
    CPPUNIT_ASSERT(!exists(dir / kMaildirSizeFile));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MaildirStoreTest);

}  // namespace pop3d
