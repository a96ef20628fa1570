#include "auth/passwd_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <map>
#include <vector>

#include "auth/password_scheme.hpp"
#include "log/logger.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

namespace {

// user:password:uid:gid:gecos:home:shell:extra_fields
constexpr size_t kPasswdFields = 8;
constexpr size_t kFieldUser = 0, kFieldSecret = 1, kFieldUid = 2, kFieldGid = 3, kFieldHome = 5,
                 kFieldExtra = 7;
// A file full of bad lines (say, the wrong file) must not flood the log;
// past this many, only the total is reported.
constexpr size_t kMaxWarningsPerLoad = 50;
// Read in pieces of this size, so a file that grows while we read it is
// caught by the size bound rather than read to the end.
constexpr size_t kReadChunkBytes = 64u << 10;

// Wipes a buffer of secrets however the scope is left.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& s) : s_(s) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() {
    if (s_.capacity() > 0) OPENSSL_cleanse(s_.data(), s_.capacity());
  }

 private:
  std::string& s_;
};

class LineWarner {
 public:
  explicit LineWarner(std::string_view file) : file_(file) {}
  LineWarner(const LineWarner&) = delete;
  LineWarner& operator=(const LineWarner&) = delete;
  ~LineWarner() {
    if (count_ > kMaxWarningsPerLoad) {
      log_warning("passwd-file " + log_escape(file_) + ": " +
                  std::to_string(count_ - kMaxWarningsPerLoad) + " more warnings not shown");
    }
  }

  void warn(size_t line, std::string_view what) {
    if (++count_ > kMaxWarningsPerLoad) return;
    log_warning("passwd-file " + log_escape(file_) + " line " + std::to_string(line) + ": " +
                std::string(what));
  }

 private:
  std::string_view file_;
  size_t count_ = 0;
};

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  while (fields.size() + 1 < kPasswdFields) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) break;
    fields.push_back(line.substr(0, colon));
    line.remove_prefix(colon + 1);
  }
  // The extra fields are last and may hold ':' themselves.
  fields.push_back(line);
  return fields;
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t") == std::string_view::npos;
}

// Names are matched byte for byte against what clients send, so bytes a
// POP3 USER argument cannot carry mark a broken line.
bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxUserNameBytes) return false;
  for (unsigned char c : name) {
    if (c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

// An id field: empty means "the calling process's", otherwise a decimal
// number; (uid_t)-1 is refused because chown/setuid treat it as "none".
template <typename Id>
bool parse_id(std::string_view field, Id fallback, Id& out) {
  if (field.empty()) {
    out = fallback;
    return true;
  }
  unsigned long long value = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec != std::errc{} || end != field.data() + field.size()) return false;
  if (value >= static_cast<unsigned long long>(std::numeric_limits<Id>::max())) return false;
  out = static_cast<Id>(value);
  return true;
}

// Why a secret cannot be used, in words safe to log: scheme names are
// shown, the secret never is.
std::string unusable_secret_reason(std::string_view secret) {
  if (secret.empty()) return "no password set";
  const size_t close = secret.find('}');
  if (secret.starts_with('{') && close != std::string_view::npos) {
    const std::string_view name = secret.substr(1, close - 1);
    const std::string shown = "{" + log_escape(name, 32) + "}";
    if (is_known_scheme(name)) return "the stored value does not fit scheme " + shown;
    return "unsupported password scheme " + shown;
  }
  return "password has no {SCHEME} prefix and is not a crypt(3) string";
}

// Appends to a buffer of secrets; when it must grow, the old block is
// wiped before it is freed, which std::string would not do.
void append_wiping(std::string& buffer, const char* data, size_t n) {
  if (buffer.size() + n > buffer.capacity()) {
    std::string bigger;
    bigger.reserve(std::max(buffer.capacity() * 2, buffer.size() + n));
    bigger.append(buffer);
    OPENSSL_cleanse(buffer.data(), buffer.capacity());
    buffer.swap(bigger);
  }
  buffer.append(data, n);
}

}  // namespace

const PasswdEntry* PasswdTable::find(std::string_view name) const {
  auto it = users.find(std::string(name));
  return it == users.end() ? nullptr : &it->second;
}

PasswdTable parse_passwd_file(std::string_view content, std::string_view file_name) {
  PasswdTable table;
  LineWarner warner(file_name);
  const uid_t own_uid = ::getuid();
  const gid_t own_gid = ::getgid();
  // cost class -> (how many, first user with it)
  std::unordered_map<std::string, std::pair<size_t, std::string>> cost_classes;
  // unused extra field -> (first line, lines): logged once per load, so a
  // field on every line does not flood the log or hide other warnings.
  std::map<std::string, std::pair<size_t, size_t>> unused_fields;
  size_t line_no = 0;
  while (!content.empty()) {
    ++line_no;
    size_t nl = content.find('\n');
    std::string_view line = content.substr(0, nl);
    content.remove_prefix(nl == std::string_view::npos ? content.size() : nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (is_blank(line) || line.starts_with('#')) continue;

    auto skip = [&](std::string_view why) {
      ++table.skipped_lines;
      warner.warn(line_no, std::string(why) + "; line skipped");
    };
    if (line.size() > kMaxPasswdLineBytes) {
      skip("line longer than " + std::to_string(kMaxPasswdLineBytes) + " bytes");
      continue;
    }
    std::vector<std::string_view> f = split_fields(line);
    if (!valid_user_name(f[kFieldUser])) {
      skip("empty or invalid user name");
      continue;
    }
    if (f.size() <= kFieldSecret) {
      skip("no password field (user:password:... expected)");
      continue;
    }
    PasswdEntry entry;
    entry.name = std::string(f[kFieldUser]);
    entry.line = line_no;
    if (!parse_id<uid_t>(f.size() > kFieldUid ? f[kFieldUid] : "", own_uid, entry.uid)) {
      skip("user " + log_escape(entry.name) + ": uid is not a number");
      continue;
    }
    if (!parse_id<gid_t>(f.size() > kFieldGid ? f[kFieldGid] : "", own_gid, entry.gid)) {
      skip("user " + log_escape(entry.name) + ": gid is not a number");
      continue;
    }
    if (f.size() > kFieldHome) entry.home = std::string(f[kFieldHome]);
    if (table.users.contains(entry.name)) {
      skip("user " + log_escape(entry.name) + " appears again; the first entry counts");
      continue;
    }
    const std::string login = entry.name;
    std::string_view secret = f[kFieldSecret];
    if (f.size() > kFieldExtra) {
      ExtraFields extra = parse_extra_fields(f[kFieldExtra], [&](const std::string& what) {
        if (what.starts_with("field ") && what.ends_with("; ignored")) {
          auto [it, fresh] = unused_fields.try_emplace(what, line_no, 0);
          ++it->second.second;
        } else {
          warner.warn(line_no, "user " + log_escape(login) + ": " + what);
        }
      });
      if (!extra.canonical_name.empty()) entry.name = extra.canonical_name;
      if (!extra.home.empty()) entry.home = extra.home;
      if (!extra.blocked.empty()) {
        // Fail closed: without a secret nothing can log this user in,
        // whichever path a login takes.
        warner.warn(line_no, "user " + log_escape(login) + " cannot log in: " + extra.blocked);
        secret = {};
      }
      if (extra.any() || !extra.blocked.empty()) {
        entry.extra = std::make_shared<const ExtraFields>(std::move(extra));
      }
    }
    const PasswordScheme scheme = parse_secret(secret).scheme;
    if (entry.extra && !entry.extra->blocked.empty()) {
      ++table.unusable_users;
    } else if (scheme == PasswordScheme::kUnsupported) {
      ++table.unusable_users;
      warner.warn(line_no, "user " + log_escape(entry.name) +
                               " cannot log in: " + unusable_secret_reason(secret));
    } else {
      if (scheme == PasswordScheme::kPlain) ++table.plaintext_users;
      auto& [count, first] = cost_classes[verification_cost_class(secret)];
      if (count++ == 0) first = login;
    }
    entry.secret = SecretString(secret);
    table.users.emplace(login, std::move(entry));
  }
  for (const auto& [what, seen] : unused_fields) {
    log_warning("passwd-file " + log_escape(file_name) + " line " + std::to_string(seen.first) +
                ": " + what +
                (seen.second > 1 ? " (on " + std::to_string(seen.second) + " lines)" : ""));
  }
  std::vector<std::pair<size_t, std::string>> by_count;
  for (const auto& [cost_class, seen] : cost_classes) by_count.push_back(seen);
  // Most common first; the first user's name breaks ties, so a reload of
  // the same file picks the same models.
  std::sort(by_count.begin(), by_count.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  if (!by_count.empty()) table.typical_user = by_count.front().second;
  for (const auto& [count, login] : by_count) {
    if (table.cost_class_models.size() >= kMaxCostClassModels) break;
    table.cost_class_models.push_back(login);
  }
  return table;
}

namespace {

FileIdentity identity_of(const struct stat& st) {
  FileIdentity id;
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  id.size = st.st_size;
  id.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return id;
}

}  // namespace

Result<FileIdentity> stat_passwd_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Error::from_errno("stat " + path);
  return identity_of(st);
}

Result<LoadedPasswdFile> load_passwd_file(const std::string& path) {
  // O_NONBLOCK: a FIFO put in the file's place must not hang the master.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return Error::from_errno("open " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("fstat " + path);
  if (!S_ISREG(st.st_mode)) return Error{path + " is not a regular file", 0};
  if (static_cast<unsigned long long>(st.st_size) > kMaxPasswdFileBytes) {
    return Error{path + " is larger than " + std::to_string(kMaxPasswdFileBytes >> 20) + " MiB", 0};
  }

  std::string content;
  WipeOnExit wipe(content);
  content.reserve(static_cast<size_t>(st.st_size) + 1);
  std::array<char, kReadChunkBytes> chunk;
  struct ChunkWipe {
    std::array<char, kReadChunkBytes>& c;
    ~ChunkWipe() { OPENSSL_cleanse(c.data(), c.size()); }
  } chunk_wipe{chunk};
  for (;;) {
    ssize_t n = ::read(fd.get(), chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("read " + path);
    }
    if (n == 0) break;
    if (content.size() + static_cast<size_t>(n) > kMaxPasswdFileBytes) {
      return Error{path + " grew past " + std::to_string(kMaxPasswdFileBytes >> 20) +
                       " MiB while being read",
                   0};
    }
    append_wiping(content, chunk.data(), static_cast<size_t>(n));
  }
  LoadedPasswdFile loaded{parse_passwd_file(content, path), identity_of(st)};
  return loaded;
}

}  // namespace pop3d
