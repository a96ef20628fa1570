#include "mailstore/dovecot_uidlist.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <limits>
#include <thread>

#include "mailstore/maildir_name.hpp"
#include "util/hex.hpp"
#include "util/small_file.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

namespace {

// Dovecot keeps uid 2^32-1 out of use; so do we.
constexpr uint64_t kUidLimit = std::numeric_limits<uint32_t>::max();

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  T v = 0;
  if (s.empty()) return std::nullopt;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Error line_error(size_t line_no, const std::string& what) {
  return Error{"dovecot-uidlist line " + std::to_string(line_no) + ": " + what, 0};
}

Result<void> parse_header(std::string_view line, Uidlist& out) {
  size_t pos = line.find(' ');
  if (line.substr(0, pos) != "3") {
    return line_error(1, "not a version 3 header (Dovecot 1.1 or later writes 3)");
  }
  bool have_v = false, have_n = false;
  while (pos != std::string_view::npos) {
    const size_t start = pos + 1;
    pos = line.find(' ', start);
    const std::string_view tok =
        line.substr(start, pos == std::string_view::npos ? pos : pos - start);
    if (tok.empty()) continue;
    if (tok[0] == 'V' || tok[0] == 'N') {
      const auto v = parse_number<uint32_t>(tok.substr(1));
      if (!v || (tok[0] == 'V' && *v == 0) || (tok[0] == 'N' && *v == 0)) {
        return line_error(1, "bad header field " + std::string(tok.substr(0, 1)));
      }
      if (tok[0] == 'V') {
        out.uidvalidity = *v;
        have_v = true;
      } else {
        out.next_uid = *v;
        have_n = true;
      }
    }
    // G (the mailbox GUID) and any later header fields: not ours to judge.
  }
  if (!have_v || !have_n) return line_error(1, "header lacks V (uidvalidity) or N (next uid)");
  return {};
}

Result<void> parse_entry(std::string_view line, size_t line_no, uint32_t prev_uid,
                         UidlistEntry& e) {
  size_t pos = line.find(' ');
  const auto uid = parse_number<uint64_t>(line.substr(0, pos));
  if (!uid || *uid == 0 || *uid >= kUidLimit) return line_error(line_no, "bad uid");
  if (*uid <= prev_uid) return line_error(line_no, "uid not above the previous line's");
  e.uid = static_cast<uint32_t>(*uid);
  while (true) {
    if (pos == std::string_view::npos) return line_error(line_no, "no \" :file name\"");
    const size_t start = pos + 1;
    if (start < line.size() && line[start] == ':') {
      const std::string_view name = line.substr(start + 1);
      e.base_name = std::string(maildir_base_name(name));
      if (e.base_name.empty()) return line_error(line_no, "empty file name");
      return {};
    }
    pos = line.find(' ', start);
    const std::string_view tok =
        line.substr(start, pos == std::string_view::npos ? pos : pos - start);
    if (tok.empty()) continue;
    const std::string_view value = tok.substr(1);
    switch (tok[0]) {
      case 'P':
        e.has_pop3_uidl = true;
        e.pop3_uidl = std::string(value);
        break;
      case 'O': {
        const auto o = parse_number<uint32_t>(value);
        if (!o) return line_error(line_no, "bad O (POP3 order) field");
        e.pop3_order = *o;
        break;
      }
      case 'W': {
        const auto w = parse_number<uint64_t>(value);
        if (!w) return line_error(line_no, "bad W (virtual size) field");
        e.vsize = *w;
        break;
      }
      case 'G':
        e.guid = std::string(value);
        break;
      default:
        break;  // fields of later Dovecot versions: carried on disk, unused here
    }
  }
}

Status sync_dir(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || fsync(fd.get()) != 0) return Error::from_errno("fsync " + dir);
  return {};
}

// Writes `text` as <dir>/dovecot-uidlist through a temporary file, so a
// reader sees the old file or the new one, never half of one.
Status replace_file(const std::string& dir, const std::string& text) {
  struct stat dst {};
  const mode_t mode = stat(dir.c_str(), &dst) == 0 ? (dst.st_mode & 0666) | 0600 : 0600;
  const std::string tmp = dir + "/" + kDovecotUidlistFile + ".pop3d-" + std::to_string(getpid());
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return Error::from_errno("create " + tmp);
  Status st = write_all(fd.get(), text, tmp);
  if (st && fsync(fd.get()) != 0) st = Error::from_errno("fsync " + tmp);
  const std::string path = dir + "/" + kDovecotUidlistFile;
  if (st && rename(tmp.c_str(), path.c_str()) != 0) st = Error::from_errno("rename to " + path);
  if (!st) {
    unlink(tmp.c_str());
    return st;
  }
  return sync_dir(dir);
}

std::string random_guid_hex() {
  unsigned char bytes[16] = {};
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // never expected; a GUID only has to be unlikely to repeat
    }
    got += static_cast<size_t>(n);
  }
  if (got < sizeof bytes) {
    const uint64_t t =
        static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) ^
        static_cast<uint64_t>(getpid());
    for (size_t i = 0; i < sizeof bytes; ++i)
      bytes[i] ^= static_cast<unsigned char>(t >> (i % 8 * 8));
  }
  return hex_lower({reinterpret_cast<const char*>(bytes), sizeof bytes});
}

}  // namespace

std::unordered_map<std::string, size_t> Uidlist::by_name() const {
  std::unordered_map<std::string, size_t> m;
  m.reserve(entries.size());
  // A name listed twice keeps its first (lowest) uid, as the older claim.
  for (size_t i = 0; i < entries.size(); ++i) m.emplace(entries[i].base_name, i);
  return m;
}

Result<Uidlist> parse_dovecot_uidlist(std::string_view text) {
  Uidlist out;
  size_t line_no = 0;
  size_t start = 0;
  uint32_t prev_uid = 0;
  while (start < text.size()) {
    ++line_no;
    const size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      if (text.size() - start > kMaxUidlistLine) return line_error(line_no, "line too long");
      if (line_no == 1) return line_error(1, "header line not complete");
      out.partial_last_line = true;
      break;
    }
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.size() > kMaxUidlistLine) return line_error(line_no, "line too long");
    if (line_no == 1) {
      auto st = parse_header(line, out);
      if (!st) return st.error();
      continue;
    }
    if (out.entries.size() >= kMaxUidlistEntries) {
      return line_error(line_no, "more than " + std::to_string(kMaxUidlistEntries) + " entries");
    }
    UidlistEntry e;
    auto st = parse_entry(line, line_no, prev_uid, e);
    if (!st) return st.error();
    prev_uid = e.uid;
    out.entries.push_back(std::move(e));
  }
  if (line_no == 0) return line_error(1, "empty file, no header");
  if (prev_uid >= out.next_uid) out.next_uid = prev_uid + 1;
  return out;
}

Result<std::optional<Uidlist>> read_dovecot_uidlist(const std::string& dir) {
  const std::string path = dir + "/" + kDovecotUidlistFile;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::optional<Uidlist>{};
    return Error::from_errno("open " + path);
  }
  auto text = read_small(fd.get(), kMaxUidlistBytes, path);
  if (!text) return text.error();
  auto list = parse_dovecot_uidlist(*text);
  if (!list) return Error{path + ": " + list.error().message, 0};
  return std::optional<Uidlist>(std::move(*list));
}

Result<DovecotDotlock> lock_dovecot_uidlist(const std::string& dir,
                                            std::chrono::milliseconds wait) {
  return DovecotDotlock::acquire(dir + "/" + kDovecotUidlistLockFile, kUidlistLockStale, wait);
}

std::string uidlist_entry_line(uint32_t uid, std::string_view base_name) {
  return std::to_string(uid) + " :" + std::string(base_name) + "\n";
}

std::string uidlist_header_line(uint32_t uidvalidity, uint32_t next_uid,
                                std::string_view guid_hex) {
  return "3 V" + std::to_string(uidvalidity) + " N" + std::to_string(next_uid) + " G" +
         std::string(guid_hex) + "\n";
}

Result<Uidlist> assign_dovecot_uids(const std::string& dir,
                                    const std::vector<std::string>& base_names,
                                    uint32_t new_uidvalidity, std::chrono::milliseconds lock_wait) {
  auto lock = lock_dovecot_uidlist(dir, lock_wait);
  if (!lock) return lock.error();
  // Read again under the lock: Dovecot may have added lines since the
  // caller looked.
  const std::string path = dir + "/" + kDovecotUidlistFile;
  std::string old_text;
  {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd) {
      auto text = read_small(fd.get(), kMaxUidlistBytes, path);
      if (!text) return text.error();
      old_text = std::move(*text);
    } else if (errno != ENOENT) {
      return Error::from_errno("open " + path);
    }
  }
  const bool exists = !old_text.empty() || access(path.c_str(), F_OK) == 0;
  Uidlist list;
  if (exists) {
    auto parsed = parse_dovecot_uidlist(old_text);
    if (!parsed) return Error{path + ": " + parsed.error().message, 0};
    list = std::move(*parsed);
  } else {
    if (new_uidvalidity == 0) return Error{"uidvalidity 0 is not valid", 0};
    list.uidvalidity = new_uidvalidity;
  }
  auto known = list.by_name();
  std::string lines;
  for (const std::string& name : base_names) {
    if (known.contains(name)) continue;
    if (name.empty() || name.find_first_of("\n\r") != std::string::npos ||
        name.size() > kMaxUidlistLine / 2) {
      continue;  // such a name cannot be one line of the file; it keeps no uid
    }
    if (list.next_uid >= kUidLimit) return Error{path + ": uids used up", 0};
    if (list.entries.size() >= kMaxUidlistEntries) break;
    UidlistEntry e;
    e.uid = list.next_uid++;
    e.base_name = name;
    lines += uidlist_entry_line(e.uid, name);
    known.emplace(name, list.entries.size());
    list.entries.push_back(std::move(e));
  }
  if (lines.empty() && exists) return list;

  if (!exists) {
    auto st = replace_file(
        dir, uidlist_header_line(list.uidvalidity, list.next_uid, random_guid_hex()) + lines);
    if (!st) return st.error();
    return list;
  }
  if (list.partial_last_line) {
    // Appending after a torn line would glue ours to it; a new file with
    // every complete line kept byte for byte and the torn one dropped.
    old_text.resize(old_text.rfind('\n') + 1);
    list.partial_last_line = false;
    auto st = replace_file(dir, old_text + lines);
    if (!st) return st.error();
    return list;
  }
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error::from_errno("open " + path);
  auto st = write_all(fd.get(), lines, path);
  if (st && fsync(fd.get()) != 0) st = Error::from_errno("fsync " + path);
  if (!st) return st.error();
  return list;
}

}  // namespace pop3d
