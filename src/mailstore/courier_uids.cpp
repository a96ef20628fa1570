#include "mailstore/courier_uids.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <numeric>
#include <unordered_map>

#include "mailstore/maildir_name.hpp"
#include "util/small_file.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

namespace {

constexpr std::string_view kInfoSuffix = ":2,";

Error line_error(size_t line_no, const std::string& what) {
  return Error{std::string(kCourierSizelistFile) + " line " + std::to_string(line_no) + ": " + what,
               0};
}

// Digits only: Courier writes nothing else, and a sign or a space inside a
// number means the line is not Courier's.
std::optional<uint64_t> parse_number(std::string_view s, uint64_t limit) {
  uint64_t v = 0;
  if (s.empty() || s[0] < '0' || s[0] > '9') return std::nullopt;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v >= limit) return std::nullopt;
  return v;
}

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t end = std::min(s.find(' ', pos), s.size());
    if (end > pos) out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

Result<void> parse_header(std::string_view line, Sizelist& out) {
  if (line.empty() || line[0] != '/') {
    return line_error(1, "not a \"/<version> <next uid> <uidvalidity>\" header");
  }
  const auto tok = split_spaces(line.substr(1));
  if (tok.size() < 2 || tok.size() > 3) {
    return line_error(1, "header needs a version, a next uid and a uidvalidity");
  }
  const auto version = parse_number(tok[0], 1000);
  if (!version || (*version != 2 && *version != 3)) {
    // Courier 1.0.16 throws away any other version and numbers every
    // message anew, which is not a file to build on.
    return line_error(1, "version is not 2 or 3 (the ones Courier reads)");
  }
  out.version = static_cast<int>(*version);
  const auto next = parse_number(tok[1], kCourierUidLimit);
  if (!next || *next == 0) return line_error(1, "bad next uid");
  out.next_uid = *next;
  if (tok.size() == 3) {
    const auto v = parse_number(tok[2], kCourierUidLimit);
    if (!v) return line_error(1, "bad uidvalidity");
    out.uidvalidity = *v;
  }
  return {};
}

Result<void> parse_entry(std::string_view line, size_t line_no, SizelistEntry& e) {
  // "<name> <size> <uid>:<uidv>[:<utf8>]"; the name may hold spaces, so the
  // numbers are the last two words, as Courier splits it.
  const size_t last = line.rfind(' ');
  const size_t prev = last == std::string_view::npos || last == 0 ? std::string_view::npos
                                                                  : line.rfind(' ', last - 1);
  if (prev == std::string_view::npos || prev == 0) {
    return line_error(line_no, "not \"<file name> <size> <uid>:<uidvalidity>\"");
  }
  e.file_name = std::string(line.substr(0, prev));
  const auto size = parse_number(line.substr(prev + 1, last - prev - 1), UINT64_MAX);
  if (!size) return line_error(line_no, "bad size");
  e.size = *size;
  const std::string_view ids = line.substr(last + 1);
  const size_t c1 = ids.find(':');
  if (c1 == std::string_view::npos) return line_error(line_no, "no \"<uid>:<uidvalidity>\"");
  const size_t c2 = ids.find(':', c1 + 1);
  const auto uid = parse_number(ids.substr(0, c1), kCourierUidLimit);
  const auto uidv = parse_number(
      ids.substr(c1 + 1, c2 == std::string_view::npos ? c2 : c2 - c1 - 1), kCourierUidLimit);
  if (!uid) return line_error(line_no, "bad uid");
  if (!uidv) return line_error(line_no, "bad uidvalidity");
  e.uid = *uid;
  e.uidvalidity = *uidv;
  if (c2 != std::string_view::npos) {
    const std::string_view flag = ids.substr(c2 + 1);
    if (flag != "0" && flag != "1") return line_error(line_no, "bad utf8 flag");
    e.utf8 = flag == "1";
  }
  return {};
}

// glibc's atol on the name, saturating as strtol does: Courier sorts by it.
long courier_atol(std::string_view s) {
  size_t i = 0;
  while (i < s.size() &&
         (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))  // isspace in the C locale
    ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  const uint64_t limit = negative ? uint64_t{LONG_MAX} + 1 : uint64_t{LONG_MAX};
  uint64_t v = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    if (v >= limit) {
      v = limit;
      for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      }
      break;
    }
  }
  if (!negative) return static_cast<long>(v);
  return v == uint64_t{LONG_MAX} + 1 ? LONG_MIN : -static_cast<long>(v);
}

std::string_view key_of(std::string_view name) {
  return name.substr(0, name.find(':'));
}

// Courier's tmp/ name shape ("<sec>.M<usec>P<pid>_pop3.<host>"), with our
// own tag, so a Courier that purges tmp/ treats a leftover like its own.
std::string temp_name() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  std::string h;
  for (const char* p = host; *p; ++p) {
    const char c = *p;
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '-';
    h.push_back(plain ? c : '_');
  }
  if (h.empty()) h = "localhost";
  return std::to_string(tv.tv_sec) + ".M" + std::to_string(tv.tv_usec) + "P" +
         std::to_string(getpid()) + "_pop3d." + h;
}

// Where a message Courier has no line for is, and what Courier would
// record for it. Empty when it is gone since the snapshot.
struct Located {
  std::string file_name;  // as Courier sees it once in cur/
  CourierMeasure measure;
};

class Locator {
 public:
  explicit Locator(const std::string& maildir) : maildir_(maildir) {}

  Result<std::optional<Located>> find(std::string_view base) {
    const std::string b(base);
    // New mail is in new/ under its base name; both pop3d and Courier move
    // it to cur/ with ":2," added, which is the name Courier will match.
    auto in_new = measure(maildir_ + "/new/" + b);
    if (!in_new) return in_new.error();
    if (*in_new) return std::optional<Located>(Located{b + std::string(kInfoSuffix), **in_new});
    if (!cur_) {
      auto listed = list_cur();
      if (!listed) return listed.error();
      cur_ = std::move(*listed);
    }
    const auto it = cur_->find(b);
    if (it == cur_->end()) return std::optional<Located>{};
    auto in_cur = measure(maildir_ + "/cur/" + it->second);
    if (!in_cur) return in_cur.error();
    if (!*in_cur) return std::optional<Located>{};
    return std::optional<Located>(Located{it->second, **in_cur});
  }

 private:
  static Result<std::optional<CourierMeasure>> measure(const std::string& path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd) {
      if (errno == ENOENT) return std::optional<CourierMeasure>{};
      return Error::from_errno("open " + path);
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) return Error::from_errno("fstat " + path);
    if (!S_ISREG(st.st_mode)) return std::optional<CourierMeasure>{};
    CourierMeasurer m;
    char buf[64 * 1024];
    while (true) {
      const ssize_t n = read(fd.get(), buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error::from_errno("read " + path);
      }
      if (n == 0) break;
      m.feed(std::string_view(buf, static_cast<size_t>(n)));
    }
    return std::optional<CourierMeasure>(m.result());
  }

  // Only when a message is not in new/ (an IMAP client moved it, or
  // Courier's imapd saw it first): one listing for all of them.
  Result<std::unordered_map<std::string, std::string>> list_cur() {
    const std::string dir = maildir_ + "/cur";
    DIR* d = opendir(dir.c_str());
    if (!d) return Error::from_errno("opendir " + dir);
    std::unordered_map<std::string, std::string> out;
    while (const dirent* de = readdir(d)) {
      if (de->d_name[0] == '.') continue;
      const std::string_view name(de->d_name);
      out.emplace(std::string(maildir_base_name(name)), std::string(name));
    }
    closedir(d);
    return out;
  }

  const std::string& maildir_;
  std::optional<std::unordered_map<std::string, std::string>> cur_;
};

}  // namespace

std::string_view SizelistEntry::key() const {
  return key_of(file_name);
}

Result<Sizelist> parse_courier_sizelist(std::string_view text) {
  Sizelist out;
  size_t line_no = 0;
  size_t start = 0;
  if (text.empty()) return line_error(1, "empty file, no header");
  while (start < text.size()) {
    ++line_no;
    const size_t end = text.find('\n', start);
    const size_t stop = end == std::string_view::npos ? text.size() : end;
    if (stop - start > kMaxSizelistLine) {
      return line_error(
          line_no, "longer than the " + std::to_string(kMaxSizelistLine) + " bytes Courier reads");
    }
    if (end == std::string_view::npos) {
      // Courier writes whole files and renames them in; this is damage.
      return line_error(line_no, "no newline at the end (Courier would ignore the line)");
    }
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.find('\0') != std::string_view::npos) return line_error(line_no, "NUL byte");
    const std::string_view raw = line;
    // A file that went through a CRLF conversion still reads in Courier.
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1) {
      auto st = parse_header(line, out);
      if (!st) return st.error();
      continue;
    }
    if (out.entries.size() >= kMaxSizelistEntries) {
      return line_error(line_no, "more than " + std::to_string(kMaxSizelistEntries) + " entries");
    }
    SizelistEntry e;
    auto st = parse_entry(line, line_no, e);
    if (!st) return st.error();
    e.line = std::string(raw);
    out.entries.push_back(std::move(e));
  }
  return out;
}

Result<std::optional<Sizelist>> read_courier_sizelist(const std::string& maildir) {
  const std::string path = maildir + "/" + kCourierSizelistFile;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::optional<Sizelist>{};
    return Error::from_errno("open " + path);
  }
  auto text = read_small(fd.get(), kMaxSizelistBytes, path);
  if (!text) return text.error();
  auto list = parse_courier_sizelist(*text);
  if (!list) return Error{maildir + "/" + list.error().message, 0};
  return std::optional<Sizelist>(std::move(*list));
}

std::string courier_uidl(const SizelistEntry& e) {
  if (e.uid != 0) {
    if (e.uidvalidity == 0) return "UID" + std::to_string(e.uid);
    return "UID" + std::to_string(e.uid) + "-" + std::to_string(e.uidvalidity);
  }
  // Courier's version-0 UIDL: the base name, with what RFC 1939 forbids and
  // Courier's own escape characters written as +XX.
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : e.key()) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7E || c == '\'' || c == '"' || c == '+') {
      out.push_back('+');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

int courier_name_compare(std::string_view a, std::string_view b) {
  a = key_of(a);
  b = key_of(b);
  const long na = courier_atol(a);
  const long nb = courier_atol(b);
  if (na != nb) return na < nb ? -1 : 1;
  // Courier compares the names up to the ':' both have after
  // getting new mail into cur/; the end of a key stands for that ':'. Plain
  // char comparison, as Courier's C does on the same machine.
  for (size_t i = 0;; ++i) {
    const bool ea = i >= a.size();
    const bool eb = i >= b.size();
    if (ea && eb) return 0;
    const char ca = ea ? ':' : a[i];
    const char cb = eb ? ':' : b[i];
    if (ca != cb) return ca < cb ? -1 : 1;
  }
}

void CourierMeasurer::feed(std::string_view bytes) {
  m_.size += bytes.size();
  for (const char c : bytes) {
    if (c == '\n') {
      ++m_.size;  // Courier sends CR LF for each LF and counts the CR
      if (in_header_ && line_length_ == 0) in_header_ = false;
      line_length_ = 0;
      continue;
    }
    if (c == '\r') continue;
    ++line_length_;
    if (in_header_ && static_cast<unsigned char>(c) >= 0x80) m_.utf8 = true;
  }
}

std::string sizelist_entry_line(int version, std::string_view file_name, uint64_t size,
                                uint64_t uid, uint64_t uidvalidity, bool utf8) {
  std::string line = std::string(file_name) + " " + std::to_string(size) + " " +
                     std::to_string(uid) + ":" + std::to_string(uidvalidity);
  if (version >= 3) line += utf8 ? ":1" : ":0";
  return line + "\n";
}

std::string sizelist_header_line(int version, uint64_t next_uid, uint64_t uidvalidity) {
  return "/" + std::to_string(version) + " " + std::to_string(next_uid) + " " +
         std::to_string(uidvalidity) + "\n";
}

Status replace_courier_sizelist(const std::string& maildir, std::string_view text) {
  const std::string path = maildir + "/" + kCourierSizelistFile;
  struct stat old {};
  const mode_t mode = stat(path.c_str(), &old) == 0 ? (old.st_mode & 0666) | 0600 : 0600;
  const std::string tmp = maildir + "/tmp/" + temp_name();
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return Error::from_errno("create " + tmp);
  Status st = write_all(fd.get(), text, tmp);
  if (st && fsync(fd.get()) != 0) st = Error::from_errno("fsync " + tmp);
  if (st && rename(tmp.c_str(), path.c_str()) != 0) st = Error::from_errno("rename to " + path);
  if (!st) {
    unlink(tmp.c_str());
    return st;
  }
  UniqueFd dir(open(maildir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir || fsync(dir.get()) != 0) return Error::from_errno("fsync " + maildir);
  return {};
}

Result<UidPlan> CourierUids::plan(const std::vector<std::string_view>& names) {
  auto read = read_courier_sizelist(maildir_);
  if (!read) return read.error();
  const bool had_file = read->has_value();
  Sizelist list;
  if (had_file) list = std::move(**read);

  // Of two lines for one name, Courier (glibc's stable sort over its list
  // read back to front) matches the last one; the other is dropped.
  std::unordered_map<std::string_view, size_t> by_key;
  by_key.reserve(list.entries.size());
  for (size_t i = 0; i < list.entries.size(); ++i) by_key[list.entries[i].key()] = i;

  UidPlan p;
  p.order.resize(names.size());
  std::iota(p.order.begin(), p.order.end(), 0u);
  std::stable_sort(p.order.begin(), p.order.end(), [&](uint32_t a, uint32_t b) {
    return courier_name_compare(names[a], names[b]) < 0;
  });

  std::vector<size_t> entry_of(names.size(), SIZE_MAX);
  std::vector<bool> used(list.entries.size(), false);
  std::vector<uint32_t> missing;  // in Courier's order, which is the order it numbers them
  for (const uint32_t pos : p.order) {
    const auto it = by_key.find(key_of(names[pos]));
    if (it == by_key.end() || used[it->second]) {
      missing.push_back(pos);
    } else {
      entry_of[pos] = it->second;
      used[it->second] = true;
    }
  }

  if (!missing.empty()) {
    const uint64_t uidv =
        list.uidvalidity.value_or(static_cast<uint64_t>(std::max<std::time_t>(1, clock_(nullptr))));
    // Courier takes the header's next uid as it is; one that a line of the
    // same uidvalidity already uses would give two messages one UIDL, so
    // we go past it.
    uint64_t next = list.next_uid;
    for (const SizelistEntry& e : list.entries) {
      if (e.uid != 0 && e.uidvalidity == uidv && e.uid >= next) next = e.uid + 1;
    }
    std::string kept;
    for (size_t i = 0; i < list.entries.size(); ++i) {
      // Lines of messages no longer there go, as Courier drops them.
      if (used[i]) kept += list.entries[i].line + "\n";
    }
    std::string added;
    Locator where(maildir_);
    for (const uint32_t pos : missing) {
      if (next >= kCourierUidLimit) return Error{maildir_ + ": Courier uids used up", 0};
      SizelistEntry e;
      e.uid = next++;
      e.uidvalidity = uidv;
      e.file_name = std::string(names[pos]) + std::string(kInfoSuffix);
      auto found = where.find(names[pos]);
      if (!found) return found.error();
      if (*found) {
        const Located& l = **found;
        e.file_name = l.file_name;
        e.size = l.measure.size;
        e.utf8 = l.measure.utf8;
        // A name that cannot be one line keeps its uid for this session only.
        if (l.file_name.find_first_of("\n\r") == std::string::npos &&
            l.file_name.size() < kMaxSizelistLine / 2) {
          added += sizelist_entry_line(list.version, l.file_name, l.measure.size, e.uid, uidv,
                                       l.measure.utf8);
        }
      }
      entry_of[pos] = list.entries.size();
      list.entries.push_back(std::move(e));
    }
    list.next_uid = next;
    list.uidvalidity = uidv;
    if (Status st = replace_courier_sizelist(
            maildir_, sizelist_header_line(list.version, next, uidv) + kept + added);
        !st) {
      return st.error();
    }
  }

  p.uidls.resize(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    std::string u = courier_uidl(list.entries[entry_of[i]]);
    // A base-name UIDL of a name too long for RFC 1939: pop3d's own form.
    p.uidls[i] = u.empty() || u.size() > kMaxUidlLength ? maildir_uidl(names[i]) : std::move(u);
  }
  return p;
}

}  // namespace pop3d
