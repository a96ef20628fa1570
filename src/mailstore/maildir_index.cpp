#include "mailstore/maildir_index.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

#include "util/unique_fd.hpp"

namespace pop3d {

namespace {

constexpr std::string_view kMagic = "pop3d-index 1 ";
// "<count> <16 hex>\n" after the magic; a count has at most 20 digits.
constexpr size_t kMaxHeaderLine = kMagic.size() + 20 + 1 + 16 + 1;

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 14695981039346656037ULL;
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

bool parse_hex64(std::string_view s, uint64_t& out) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

bool indexable_name(std::string_view base_name) {
  if (base_name.empty() || base_name.size() > kMaxIndexedName) return false;
  for (char c : base_name)
    if (c == '\n' || c == '\0') return false;
  return true;
}

std::string serialize_index(const std::vector<IndexRecord>& records) {
  std::string body;
  body.reserve(records.size() * 64);
  size_t count = 0;
  char num[24];
  for (const auto& r : records) {
    if (!indexable_name(r.base_name)) continue;
    const auto [end, ec] = std::to_chars(num, num + sizeof num, r.entry.size);
    (void)ec;  // 24 bytes always hold a uint64_t
    body.append(num, end);
    body.append(r.entry.plain_sendable ? " 1 " : " 0 ");
    body.append(r.base_name);
    body.push_back('\n');
    ++count;
  }
  char header[kMaxHeaderLine + 1];
  const int n =
      std::snprintf(header, sizeof header, "%.*s%zu %016llx\n", static_cast<int>(kMagic.size()),
                    kMagic.data(), count, static_cast<unsigned long long>(fnv1a64(body)));
  std::string out(header, static_cast<size_t>(n));
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
    index.entries_.clear();
    index.state_ = State::kCorrupt;
  }
  return index;
}

bool MaildirIndex::parse_text() {
  const std::string_view all(*text_);
  if (all.size() > kMaxIndexBytes) return false;
  const size_t header_end = all.find('\n');
  if (header_end == std::string_view::npos || header_end + 1 > kMaxHeaderLine) return false;
  std::string_view header = all.substr(0, header_end);
  if (header.substr(0, kMagic.size()) != kMagic) return false;
  header.remove_prefix(kMagic.size());
  const size_t space = header.find(' ');
  if (space == std::string_view::npos) return false;
  uint64_t count = 0, checksum = 0;
  if (!parse_u64(header.substr(0, space), count)) return false;
  if (!parse_hex64(header.substr(space + 1), checksum)) return false;

  std::string_view body = all.substr(header_end + 1);
  if (fnv1a64(body) != checksum) return false;
  // Each entry takes at least "0 0 x\n": a count beyond that is a lie.
  if (count > body.size() / 6) return false;
  entries_.reserve(static_cast<size_t>(count));

  uint64_t seen = 0;
  while (!body.empty()) {
    const size_t eol = body.find('\n');
    if (eol == std::string_view::npos) return false;  // last line unterminated
    std::string_view line = body.substr(0, eol);
    body.remove_prefix(eol + 1);

    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return false;
    IndexEntry entry;
    if (!parse_u64(line.substr(0, sp), entry.size)) return false;
    line.remove_prefix(sp + 1);
    if (line.size() < 3 || line[1] != ' ' || (line[0] != '0' && line[0] != '1')) return false;
    entry.plain_sendable = line[0] == '1';
    const std::string_view name = line.substr(2);
    if (!indexable_name(name)) return false;
    if (!entries_.emplace(name, entry).second) return false;  // duplicate key
    ++seen;
  }
  return seen == count;
}

const IndexEntry* MaildirIndex::find(std::string_view base_name) const {
  const auto it = entries_.find(base_name);
  return it == entries_.end() ? nullptr : &it->second;
}

Status write_maildir_index(int maildir_fd, const std::vector<IndexRecord>& records) {
  const std::string text = serialize_index(records);
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
