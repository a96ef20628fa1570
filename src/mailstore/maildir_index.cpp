#include "mailstore/maildir_index.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

#include "mailstore/maildir_name.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

namespace {

constexpr std::string_view kMagic = "pop3d-index 2 ";
// "<count> <cur ns> <new ns> <16 hex>\n" after the magic; each number has at
// most 20 digits.
constexpr size_t kMaxHeaderLine = kMagic.size() + 3 * (20 + 1) + 16 + 1;
constexpr unsigned kFlagPlain = 1;
constexpr unsigned kFlagInNew = 2;

constexpr uint64_t kFnvBasis = 14695981039346656037ULL;

uint64_t fnv1a64(std::string_view s, uint64_t h = kFnvBasis) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Strict unsigned decimal: digits only, no sign, no leading zeros beyond
// "0", no overflow.
bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// The next space-separated field of `s`, removed from it; empty when none.
std::string_view next_field(std::string_view& s) {
  const size_t sp = s.find(' ');
  if (sp == std::string_view::npos) return {};
  const std::string_view field = s.substr(0, sp);
  s.remove_prefix(sp + 1);
  return field;
}

bool parse_stamp(std::string_view s, int64_t& out) {
  uint64_t v = 0;
  if (!parse_u64(s, v) || v > static_cast<uint64_t>(INT64_MAX)) return false;
  out = static_cast<int64_t>(v);
  return true;
}

bool parse_hex64(std::string_view s, uint64_t& out) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

bool indexable_name(std::string_view file_name) {
  if (file_name.empty() || file_name.size() > kMaxIndexedName) return false;
  return file_name.find('\n') == std::string_view::npos &&
         file_name.find('\0') == std::string_view::npos;
}

std::string serialize_index(const std::vector<IndexRecord>& records, DirStamps stamps) {
  std::string body;
  body.reserve(records.size() * 64);
  size_t count = 0;
  char num[24];
  for (const auto& r : records) {
    if (!indexable_name(r.file_name)) continue;
    const auto [end, ec] = std::to_chars(num, num + sizeof num, r.entry.size);
    (void)ec;  // 24 bytes always hold a uint64_t
    body.append(num, end);
    const unsigned flags = (r.entry.plain_sendable ? kFlagPlain : 0) | (r.in_new ? kFlagInNew : 0);
    body.push_back(' ');
    body.push_back(static_cast<char>('0' + flags));
    body.push_back(' ');
    body.append(r.file_name);
    body.push_back('\n');
    ++count;
  }
  char header[kMaxHeaderLine + 1];
  // The checksum covers the header's fields too: a flipped stamp must not
  // pass for a listing.
  const int n = std::snprintf(header, sizeof header, "%.*s%zu %lld %lld ",
                              static_cast<int>(kMagic.size()), kMagic.data(), count,
                              static_cast<long long>(stamps.cur_ns < 0 ? 0 : stamps.cur_ns),
                              static_cast<long long>(stamps.new_ns < 0 ? 0 : stamps.new_ns));
  std::string out(header, static_cast<size_t>(n));
  char sum[18];
  std::snprintf(sum, sizeof sum, "%016llx\n",
                static_cast<unsigned long long>(fnv1a64(body, fnv1a64(out))));
  out.append(sum, 17);
  out.append(body);
  return out;
}

MaildirIndex MaildirIndex::load(int maildir_fd) {
  MaildirIndex index;
  UniqueFd fd(::openat(maildir_fd, kMaildirIndexFile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    index.state_ = errno == ENOENT ? State::kMissing : State::kCorrupt;
    return index;
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
      static_cast<uint64_t>(st.st_size) > kMaxIndexBytes) {
    index.state_ = State::kCorrupt;
    return index;
  }
  // One byte more than fstat says, to notice a file that grew meanwhile.
  std::string text(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      index.state_ = State::kCorrupt;
      return index;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got != static_cast<size_t>(st.st_size)) {
    index.state_ = State::kCorrupt;
    return index;
  }
  text.resize(got);
  return parse(std::move(text));
}

MaildirIndex MaildirIndex::parse(std::string text) {
  MaildirIndex index;
  index.text_ = std::make_unique<std::string>(std::move(text));
  if (index.parse_text()) {
    index.state_ = State::kLoaded;
  } else {
    index.records_.clear();
    index.stamps_ = {};
    index.state_ = State::kCorrupt;
  }
  return index;
}

bool MaildirIndex::parse_text() {
  const std::string_view all(*text_);
  if (all.size() > kMaxIndexBytes) return false;
  const size_t header_end = all.find('\n');
  if (header_end == std::string_view::npos || header_end + 1 > kMaxHeaderLine) return false;
  std::string_view header = all.substr(0, header_end + 1);  // with its '\n'
  if (header.size() < 17) return false;
  const std::string_view summed = header.substr(0, header.size() - 17);
  if (header.substr(0, kMagic.size()) != kMagic) return false;
  header.remove_prefix(kMagic.size());
  uint64_t count = 0, checksum = 0;
  if (!parse_u64(next_field(header), count)) return false;
  if (!parse_stamp(next_field(header), stamps_.cur_ns)) return false;
  if (!parse_stamp(next_field(header), stamps_.new_ns)) return false;
  if (header.size() != 17 || header.back() != '\n') return false;
  if (!parse_hex64(header.substr(0, 16), checksum)) return false;

  std::string_view body = all.substr(header_end + 1);
  if (fnv1a64(body, fnv1a64(summed)) != checksum) return false;
  // Each entry takes at least "0 0 x\n": a count beyond that is a lie.
  if (count > body.size() / 6) return false;
  records_.reserve(static_cast<size_t>(count));

  while (!body.empty()) {
    const size_t eol = body.find('\n');
    if (eol == std::string_view::npos) return false;  // last line unterminated
    std::string_view line = body.substr(0, eol);
    body.remove_prefix(eol + 1);

    IndexRecord record;
    if (!parse_u64(next_field(line), record.entry.size)) return false;
    if (line.size() < 3 || line[1] != ' ' || line[0] < '0' || line[0] > '3') return false;
    const unsigned flags = static_cast<unsigned>(line[0] - '0');
    record.entry.plain_sendable = (flags & kFlagPlain) != 0;
    record.in_new = (flags & kFlagInNew) != 0;
    record.file_name = line.substr(2);
    if (!indexable_name(record.file_name) || maildir_base_name(record.file_name).empty())
      return false;
    records_.push_back(record);
  }
  if (records_.size() != count) return false;
  // One base name, one record: a duplicate is damage.
  build_lookup();
  return !lookup_.empty() || records_.empty();
}

void MaildirIndex::build_lookup() {
  lookup_.clear();
  if (records_.empty()) return;
  size_t slots = 16;
  while (slots < records_.size() * 2) slots <<= 1;
  std::vector<uint32_t> table(slots, 0);
  const std::hash<std::string_view> hash;
  for (size_t i = 0; i < records_.size(); ++i) {
    const std::string_view base = maildir_base_name(records_[i].file_name);
    for (size_t s = hash(base) & (slots - 1);; s = (s + 1) & (slots - 1)) {
      if (table[s] == 0) {
        table[s] = static_cast<uint32_t>(i + 1);
        break;
      }
      if (maildir_base_name(records_[table[s] - 1].file_name) == base) return;  // duplicate
    }
  }
  lookup_ = std::move(table);
}

size_t MaildirIndex::position(std::string_view base_name) const {
  if (lookup_.empty()) return npos;
  const size_t mask = lookup_.size() - 1;
  for (size_t s = std::hash<std::string_view>()(base_name) & mask;; s = (s + 1) & mask) {
    const uint32_t slot = lookup_[s];
    if (slot == 0) return npos;
    if (maildir_base_name(records_[slot - 1].file_name) == base_name) return slot - 1;
  }
}

const IndexEntry* MaildirIndex::find(std::string_view base_name) const {
  const size_t pos = position(base_name);
  return pos == npos ? nullptr : &records_[pos].entry;
}

Status write_maildir_index(int maildir_fd, const std::vector<IndexRecord>& records,
                           DirStamps stamps) {
  const std::string text = serialize_index(records, stamps);
  // The fixed temp name is safe: only the lock holder writes the index.
  UniqueFd fd(::openat(maildir_fd, kMaildirIndexTempFile,
                       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600));
  if (!fd) return Error::from_errno(std::string("open ") + kMaildirIndexTempFile);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::unlinkat(maildir_fd, kMaildirIndexTempFile, 0);
      return Error::from_errno(std::string("write ") + kMaildirIndexTempFile, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    const int err = errno;
    ::unlinkat(maildir_fd, kMaildirIndexTempFile, 0);
    return Error::from_errno(std::string("fsync ") + kMaildirIndexTempFile, err);
  }
  fd.reset();
  if (::renameat(maildir_fd, kMaildirIndexTempFile, maildir_fd, kMaildirIndexFile) != 0) {
    const int err = errno;
    ::unlinkat(maildir_fd, kMaildirIndexTempFile, 0);
    return Error::from_errno(std::string("rename ") + kMaildirIndexTempFile, err);
  }
  return {};
}

}  // namespace pop3d
