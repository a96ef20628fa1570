// IpList: a set of client addresses written the way administrators write
// them: single IPv4/IPv6 addresses, CIDR blocks (192.0.2.0/24,
// 2001:db8::/32), ranges (192.0.2.10-192.0.2.99) and wildcards (192.0.2.*).
// Entries become sorted, merged intervals over one 128-bit space (IPv4 as
// ::ffff:a.b.c.d), so a lookup is a binary search however long the list.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace pop3d {

// An address in the 128-bit space; IPv4 is mapped to ::ffff:0:0/96.
using IpKey = std::array<uint8_t, 16>;

// Parses a numeric IPv4 or IPv6 address into the 128-bit space.
Result<IpKey> parse_ip_key(const std::string& text);

class IpList {
 public:
  // Parses `entries`; the error names the first malformed entry.
  static Result<IpList> parse(const std::vector<std::string>& entries);

  bool contains(const IpKey& address) const;
  bool contains(const std::string& address) const;  // false when unparsable
  size_t interval_count() const { return intervals_.size(); }

 private:
  // Keys as 128-bit numbers: one comparison instead of sixteen byte ones
  // in the binary search.
  using Wide = unsigned __int128;
  struct Interval {
    Wide first;
    Wide last;
  };
  std::vector<Interval> intervals_;  // sorted, non-overlapping
};

}  // namespace pop3d
