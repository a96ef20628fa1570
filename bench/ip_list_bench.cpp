// Measures IpList lookups with lists the size an administrator might load
// into pop3.blocked_ips / pop3.safe_ips (10,000 entries of every kind), as
// issue 5 asks: lookups run on every connection, so they must stay cheap.
//   bench/ip-list [ENTRIES] [LOOKUPS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "security/ip_list.hpp"

using namespace pop3d;

int main(int argc, char** argv) {
  const int entries = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int lookups = argc > 2 ? std::atoi(argv[2]) : 1000000;
  std::mt19937 rng(42);
  auto octet = [&] { return std::to_string(rng() % 256); };
  std::vector<std::string> list;
  for (int i = 0; i < entries; ++i) {
    switch (i % 5) {
      case 0:
        list.push_back(octet() + "." + octet() + "." + octet() + "." + octet());
        break;
      case 1:
        list.push_back(octet() + "." + octet() + "." + octet() + ".0/24");
        break;
      case 2: {
        const std::string net = octet() + "." + octet() + "." + octet() + ".";
        list.push_back(net + "10-" + net + "99");
        break;
      }
      case 3:
        list.push_back(octet() + "." + octet() + ".*");
        break;
      case 4: {
        char v6[64];
        std::snprintf(v6, sizeof v6, "2001:db8:%x:%x::/64", rng() % 65536, rng() % 65536);
        list.push_back(v6);
        break;
      }
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto parsed = IpList::parse(list);
  const auto t1 = std::chrono::steady_clock::now();
  if (!parsed) {
    std::fprintf(stderr, "parse failed: %s\n", parsed.error().message.c_str());
    return 1;
  }
  std::vector<IpKey> probes;
  for (int i = 0; i < 4096; ++i) {
    probes.push_back(*parse_ip_key(octet() + "." + octet() + "." + octet() + "." + octet()));
  }
  size_t hits = 0;
  const auto t2 = std::chrono::steady_clock::now();
  for (int i = 0; i < lookups; ++i) hits += parsed->contains(probes[i & 4095]);
  const auto t3 = std::chrono::steady_clock::now();
  const double parse_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const double ns = std::chrono::duration<double, std::nano>(t3 - t2).count() / lookups;
  std::printf("entries=%d intervals=%zu parse_ms=%.1f lookups=%d ns_per_lookup=%.1f hits=%zu\n",
              entries, parsed->interval_count(), parse_ms, lookups, ns, hits);
  return 0;
}
