// Fuzz target: what pop3d reads from a Maildir that another program wrote:
// file names (base name, delivery time, the ",W=" size field, the UIDL
// derived from them) and the pop3d.index file. The UIDL must always be what
// RFC 1939 allows (at most 70 bytes in 0x21-0x7E).
//
// The index is fed twice: the input as it is (the reader must refuse or
// accept it without harm), and the input's lines ("<size> <flags> <name>")
// written out by serialize_index, so that the checksum in the header is
// right and the reader's body parsing is reached; an index that loads must
// then find every name it was given.
#include <charconv>
#include <cstdlib>
#include <vector>

#include "fuzz_common.hpp"
#include "mailstore/maildir_index.hpp"
#include "mailstore/maildir_name.hpp"

using namespace pop3d;

namespace {

void check_name(std::string_view name) {
  const std::string_view base = maildir_base_name(name);
  if (base.size() > name.size()) std::abort();
  (void)maildir_delivery_time(base);
  (void)maildir_wire_size_field(base);
  const std::string uidl = maildir_uidl(base);
  if (uidl.size() > kMaxUidlLength) std::abort();
  for (char c : uidl) {
    if (c < 0x21 || c > 0x7e) std::abort();
  }
}

void check_written_index(std::string_view text) {
  std::vector<IndexRecord> records;
  std::vector<std::string_view> names;  // records[i]'s name
  size_t start = 0;
  while (start < text.size() && records.size() < 4096) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    uint64_t size = 0;
    const auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), size);
    if (ec != std::errc() || line.end() - p < 4) continue;
    const bool plain = (p[1] & 1) != 0;
    const std::string_view name = line.substr(p - line.data() + 3);
    if (!indexable_name(name)) continue;
    records.push_back(IndexRecord{name, IndexEntry{size, plain}});
    names.push_back(name);
  }
  const MaildirIndex index = MaildirIndex::parse(serialize_index(records));
  if (index.state() != MaildirIndex::State::kLoaded) return;  // e.g. a duplicate name
  if (index.size() > records.size()) std::abort();
  for (size_t i = 0; i < records.size(); ++i) {
    const IndexEntry* e = index.find(maildir_base_name(names[i]));
    if (e == nullptr) e = index.find(names[i]);
    if (e == nullptr || e->size != records[i].entry.size) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  check_name(text.substr(0, text.find('\n')));
  const MaildirIndex raw = MaildirIndex::parse(std::string(text));
  if (raw.state() == MaildirIndex::State::kLoaded && raw.size() > size) std::abort();
  check_written_index(text);
  return 0;
}
