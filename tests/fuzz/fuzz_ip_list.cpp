// Fuzz target: IpList::parse (addresses, CIDR blocks, ranges, wildcards)
// and lookups. The input is split into entries at newlines; the last entry
// is also looked up, and every entry that parses alone as an address must
// be found in a list that accepted it.
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "security/ip_list.hpp"

using namespace pop3d;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // lists are short; longer inputs only slow the search
  const std::string_view text = fuzz::as_text(data, size);
  std::vector<std::string> entries;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    entries.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }

  Result<IpList> list = IpList::parse(entries);
  for (const std::string& e : entries) {
    Result<IpKey> key = parse_ip_key(e);
    if (!key) continue;
    if (list && !list->contains(*key)) std::abort();
    if (list) (void)list->contains(e);
  }
  if (list) {
    (void)list->contains(entries.back());
    (void)list->interval_count();
  }
  return 0;
}
