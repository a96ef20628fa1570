// Fuzz target: a courierpop3dsizelist that another program wrote (Courier,
// a migration script, a disk that lost a block), and message bytes as
// Courier would measure them. A sizelist that parses must keep its
// promises (a version Courier reads, uids below the bound, the bounds on
// entries), every UIDL it yields must be one RFC 1939 allows or empty
// (pop3d then uses its own), what pop3d would write for its entries must
// read back the same, and Courier's order must be a consistent order.
#include <cstdlib>

#include "fuzz_common.hpp"
#include "mailstore/courier_uids.hpp"

using namespace pop3d;

namespace {

int sign(int v) {
  return (v > 0) - (v < 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);

  // Measuring in two pieces gives what measuring at once gives.
  CourierMeasurer whole, split;
  whole.feed(text);
  split.feed(text.substr(0, size / 2));
  split.feed(text.substr(size / 2));
  size_t lfs = 0;
  for (char c : text) lfs += c == '\n';
  if (whole.result().size != size + lfs || split.result().size != whole.result().size ||
      split.result().utf8 != whole.result().utf8)
    std::abort();

  auto list = parse_courier_sizelist(text);
  if (!list.ok()) {
    if (list.error().message.find("line ") == std::string::npos) std::abort();
    return 0;
  }
  if (list->version != 2 && list->version != 3) std::abort();
  if (list->next_uid == 0 || list->next_uid >= kCourierUidLimit) std::abort();
  if (list->entries.size() > kMaxSizelistEntries) std::abort();
  std::string written =
      sizelist_header_line(list->version, list->next_uid, list->uidvalidity.value_or(1));
  for (const SizelistEntry& e : list->entries) {
    if (e.uid >= kCourierUidLimit || e.uidvalidity >= kCourierUidLimit) std::abort();
    if (e.line.size() > kMaxSizelistLine) std::abort();
    const std::string u = courier_uidl(e);
    for (char c : u) {
      if (c < 0x21 || c > 0x7e) std::abort();
    }
    if (e.uid != 0 && u.empty()) std::abort();
    if (courier_name_compare(e.file_name, e.file_name) != 0) std::abort();
    written += sizelist_entry_line(list->version, e.file_name, e.size, e.uid, e.uidvalidity,
                                   e.utf8.value_or(false));
  }
  for (size_t i = 0; i + 1 < list->entries.size(); ++i) {
    const std::string& a = list->entries[i].file_name;
    const std::string& b = list->entries[i + 1].file_name;
    if (sign(courier_name_compare(a, b)) != -sign(courier_name_compare(b, a))) std::abort();
  }
  auto back = parse_courier_sizelist(written);
  if (!back.ok()) std::abort();
  if (back->entries.size() != list->entries.size()) std::abort();
  for (size_t i = 0; i < back->entries.size(); ++i) {
    const SizelistEntry& x = list->entries[i];
    const SizelistEntry& y = back->entries[i];
    if (x.uid != y.uid || x.uidvalidity != y.uidvalidity || x.size != y.size ||
        x.file_name != y.file_name)
      std::abort();
  }
  return 0;
}
