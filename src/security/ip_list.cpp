#include "security/ip_list.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace pop3d {

namespace {

constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

bool is_v4(const IpKey& k) {
  return std::equal(kV4MappedPrefix, kV4MappedPrefix + 12, k.begin());
}

// Keeps the first `bits` bits of `k`; the rest become 0 (low) or 1 (high).
IpKey with_host_bits(IpKey k, int bits, bool ones) {
  for (int i = 0; i < 128; ++i) {
    if (i < bits) continue;
    const uint8_t mask = static_cast<uint8_t>(0x80 >> (i % 8));
    if (ones) {
      k[i / 8] |= mask;
    } else {
      k[i / 8] &= static_cast<uint8_t>(~mask);
    }
  }
  return k;
}

Result<int> parse_prefix(const std::string& s, int max) {
  if (s.empty() || s.size() > 3 || !std::all_of(s.begin(), s.end(), ::isdigit)) {
    return Error{"bad prefix length"};
  }
  const int n = std::stoi(s);
  if (n > max) return Error{"prefix length above " + std::to_string(max)};
  return n;
}

// "192.0.2.*" or "10.*.*.*": trailing octets that are "*".
Result<std::pair<IpKey, IpKey>> parse_wildcard(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (parts.size() > 4) return Error{"too many octets"};
  int fixed = 0;
  while (fixed < static_cast<int>(parts.size()) && parts[fixed] != "*") ++fixed;
  for (size_t i = fixed; i < parts.size(); ++i) {
    if (parts[i] != "*") return Error{"'*' must stand for the last octets"};
  }
  if (fixed == 0) return Error{"'*' alone: use 0.0.0.0/0"};
  std::string base;
  for (int i = 0; i < 4; ++i) {
    if (i) base += '.';
    base += i < fixed ? parts[i] : "0";
  }
  auto key = parse_ip_key(base);
  if (!key) return key.error();
  const int bits = 96 + 8 * fixed;
  return std::make_pair(with_host_bits(*key, bits, false), with_host_bits(*key, bits, true));
}

Result<std::pair<IpKey, IpKey>> parse_entry(const std::string& entry) {
  if (const auto slash = entry.find('/'); slash != std::string::npos) {
    auto key = parse_ip_key(trim(entry.substr(0, slash)));
    if (!key) return key.error();
    const bool v4 = is_v4(*key);
    auto prefix = parse_prefix(trim(entry.substr(slash + 1)), v4 ? 32 : 128);
    if (!prefix) return prefix.error();
    const int bits = *prefix + (v4 ? 96 : 0);
    return std::make_pair(with_host_bits(*key, bits, false), with_host_bits(*key, bits, true));
  }
  if (const auto dash = entry.find('-'); dash != std::string::npos) {
    auto first = parse_ip_key(trim(entry.substr(0, dash)));
    auto last = parse_ip_key(trim(entry.substr(dash + 1)));
    if (!first) return first.error();
    if (!last) return last.error();
    if (is_v4(*first) != is_v4(*last)) return Error{"range mixes IPv4 and IPv6"};
    if (*last < *first) return Error{"range ends before it starts"};
    return std::make_pair(*first, *last);
  }
  if (entry.find('*') != std::string::npos) return parse_wildcard(entry);
  auto key = parse_ip_key(entry);
  if (!key) return key.error();
  return std::make_pair(*key, *key);
}

unsigned __int128 wide(const IpKey& k) {
  unsigned __int128 v = 0;
  for (uint8_t byte : k) v = (v << 8) | byte;
  return v;
}

}  // namespace

Result<IpKey> parse_ip_key(const std::string& text) {
  IpKey key{};
  in_addr v4;
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    std::copy(kV4MappedPrefix, kV4MappedPrefix + 12, key.begin());
    std::memcpy(key.data() + 12, &v4, 4);
    return key;
  }
  in6_addr v6;
  if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    std::memcpy(key.data(), &v6, 16);
    return key;
  }
  return Error{"not an IP address: '" + text + "'"};
}

Result<IpList> IpList::parse(const std::vector<std::string>& entries) {
  IpList list;
  for (const auto& raw : entries) {
    const std::string entry = trim(raw);
    if (entry.empty()) continue;
    auto range = parse_entry(entry);
    if (!range) return Error{"bad address entry '" + entry + "': " + range.error().message};
    list.intervals_.push_back({wide(range->first), wide(range->second)});
  }
  std::sort(list.intervals_.begin(), list.intervals_.end(),
            [](const Interval& a, const Interval& b) { return a.first < b.first; });
  // Merge overlaps so that the binary search in contains() needs to look at
  // one interval only.
  std::vector<Interval> merged;
  for (const auto& iv : list.intervals_) {
    if (!merged.empty() && iv.first <= merged.back().last) {
      merged.back().last = std::max(merged.back().last, iv.last);
    } else {
      merged.push_back(iv);
    }
  }
  list.intervals_ = std::move(merged);
  return list;
}

bool IpList::contains(const IpKey& address) const {
  const Wide key = wide(address);
  auto it = std::upper_bound(intervals_.begin(), intervals_.end(), key,
                             [](Wide a, const Interval& iv) { return a < iv.first; });
  if (it == intervals_.begin()) return false;
  --it;
  return key <= it->last;
}

bool IpList::contains(const std::string& address) const {
  auto key = parse_ip_key(address);
  return key.ok() && contains(*key);
}

}  // namespace pop3d
