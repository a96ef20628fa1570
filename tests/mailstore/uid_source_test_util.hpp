// Helpers for the tests of UID sources through MaildirStore: open a
// maildrop, read its UIDLs and message texts in session order.
#pragma once

#include <cppunit/extensions/HelperMacros.h>

#include <memory>
#include <string>

#include "maildir_test_util.hpp"
#include "mailstore/maildir_store.hpp"
#include "mailstore/uid_source.hpp"

namespace pop3d::testing {

// Opens `location` as alice's maildrop through MaildirStore, which must
// succeed.
inline std::unique_ptr<Maildrop> open_with(const std::string& location, UidlChoice choice = {}) {
  MaildirStore store(std::move(choice));
  UserRecord u;
  u.name = "alice";
  u.home = "/nonexistent";
  u.maildir = location;
  OpenOutcome out = store.open(u);
  CPPUNIT_ASSERT_MESSAGE(out.reason, out.status == OpenStatus::kOk);
  return std::move(out.maildrop);
}

// The UIDLs in session order, a line each.
inline std::string listing(Maildrop& drop) {
  std::string out;
  for (size_t i = 0; i < drop.count(); ++i) out += drop.info(i).uidl + "\n";
  return out;
}

// The message texts in session order: they tell which file a position holds.
inline std::string bodies(Maildrop& drop) {
  std::string out;
  for (size_t i = 0; i < drop.count(); ++i) {
    auto fd = drop.open_message(i);
    CPPUNIT_ASSERT(fd.ok());
    out += testing::read_all(fd->get());
  }
  return out;
}

}  // namespace pop3d::testing
