#include "mailstore/maildir_name.hpp"

#include <openssl/evp.h>

#include <limits>

namespace pop3d {

namespace {

// A uint64_t holds any 19-digit decimal number; longer runs would overflow.
constexpr size_t kMaxSafeDigits = 19;

// Parses a run of decimal digits; empty when there are none or it overflows.
std::optional<uint64_t> parse_digits(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

constexpr char kHex[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

}  // namespace

std::string_view maildir_base_name(std::string_view file_name) {
  const size_t info = file_name.find(":2,");
  return info == std::string_view::npos ? file_name : file_name.substr(0, info);
}

uint64_t maildir_delivery_time(std::string_view base_name) {
  size_t n = 0;
  while (n < base_name.size() && base_name[n] >= '0' && base_name[n] <= '9') ++n;
  if (n == 0) return std::numeric_limits<uint64_t>::max();
  // A timestamp this long is nonsense; keep it sortable, after real ones.
  if (n > kMaxSafeDigits) return std::numeric_limits<uint64_t>::max() - 1;
  return *parse_digits(base_name.substr(0, n));
}

namespace {

// The first well-formed ",<tag>=<digits>" field of a base name.
std::optional<uint64_t> size_field(std::string_view base_name, std::string_view tag) {
  size_t pos = 0;
  while ((pos = base_name.find(tag, pos)) != std::string_view::npos) {
    const size_t start = pos + tag.size();
    size_t end = base_name.find(',', start);
    if (end == std::string_view::npos) end = base_name.size();
    if (auto v = parse_digits(base_name.substr(start, end - start))) return v;
    pos = start;
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> maildir_wire_size_field(std::string_view base_name) {
  return size_field(base_name, ",W=");
}

std::optional<uint64_t> maildir_file_size_field(std::string_view base_name) {
  return size_field(base_name, ",S=");
}

std::string maildir_uidl(std::string_view base_name) {
  std::string out;
  out.reserve(base_name.size());
  for (unsigned char c : base_name) {
    if (c >= 0x21 && c <= 0x7E && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
    }
    if (out.size() > kMaxUidlLength) break;
  }
  if (!out.empty() && out.size() <= kMaxUidlLength) return out;

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  out.assign("%H");
  if (EVP_Digest(base_name.data(), base_name.size(), md, &md_len, EVP_sha1(), nullptr) != 1) {
    // Never expected (SHA-1 missing from the OpenSSL build): a 64-bit
    // FNV-1a hash is still stable, and collisions stay unlikely.
    uint64_t h = 14695981039346656037ULL;
    for (unsigned char c : base_name) h = (h ^ c) * 1099511628211ULL;
    for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHexLower[(h >> shift) & 0x0F]);
    return out;
  }
  for (unsigned i = 0; i < md_len; ++i) {
    out.push_back(kHexLower[md[i] >> 4]);
    out.push_back(kHexLower[md[i] & 0x0F]);
  }
  return out;
}

}  // namespace pop3d
