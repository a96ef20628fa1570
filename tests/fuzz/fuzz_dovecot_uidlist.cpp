// Fuzz target: a dovecot-uidlist that another program wrote (Dovecot, a
// migration script, a disk that lost a block), and a pop3.uidl_format an
// administrator typed. The input's first line is tried as a format; the
// whole input as a uidlist. A uidlist that parses must keep its promises
// (ascending uids below next_uid, within the bounds), and every UIDL made
// from it, through the format or a P field, must be one RFC 1939 allows
// when it goes through UidlFormat::uidl().
#include <cstdlib>

#include "fuzz_common.hpp"
#include "mailstore/dovecot_uidlist.hpp"
#include "mailstore/maildir_name.hpp"
#include "mailstore/uidl_format.hpp"

using namespace pop3d;

namespace {

void check_uidl(const std::string& uidl) {
  if (uidl.empty() || uidl.size() > kMaxUidlLength) std::abort();
  for (char c : uidl) {
    if (c < 0x21 || c > 0x7e) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  const std::string_view first = text.substr(0, text.find('\n'));

  auto format = UidlFormat::parse(first);
  const auto fallback = UidlFormat::parse(UidlFormat::kDovecotDefault);
  if (!fallback.ok()) std::abort();
  const UidlFormat& f = format.ok() ? *format : *fallback;
  if (format.ok() && format->text() != first) std::abort();

  auto list = parse_dovecot_uidlist(text);
  if (!list.ok()) {
    if (list.error().message.find("line ") == std::string::npos) std::abort();
    // The format alone, on the input as a base name.
    check_uidl(f.uidl(UidlFields{1, 1, first, {}}));
    return 0;
  }
  if (list->entries.size() > kMaxUidlistEntries || list->uidvalidity == 0) std::abort();
  uint32_t prev = 0;
  for (const UidlistEntry& e : list->entries) {
    if (e.uid <= prev || e.uid >= list->next_uid || e.base_name.empty()) std::abort();
    prev = e.uid;
    const auto p = e.presented_uidl();
    if (p && e.pop3_uidl.empty() && *p != e.base_name) std::abort();
    const std::string u = f.uidl(UidlFields{e.uid, list->uidvalidity, e.base_name, e.guid});
    check_uidl(u);
    // Stable: the same message gives the same UIDL every session.
    if (u != f.uidl(UidlFields{e.uid, list->uidvalidity, e.base_name, e.guid})) std::abort();
  }
  // What pop3d writes for these names must read back as the same uids.
  std::string written = uidlist_header_line(list->uidvalidity, list->next_uid, "0123");
  for (const UidlistEntry& e : list->entries) {
    if (e.base_name.find('\n') != std::string::npos) continue;
    written += uidlist_entry_line(e.uid, e.base_name);
  }
  auto back = parse_dovecot_uidlist(written);
  if (!back.ok() || back->uidvalidity != list->uidvalidity) std::abort();
  return 0;
}
