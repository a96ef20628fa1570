// PasswdFile: the parsed contents of a Dovecot-style passwd file,
//
//   user:password:uid:gid:gecos:home:shell:extra_fields
//
// Only user and password are required; blank lines and lines starting with
// '#' are ignored. The extra fields are Dovecot's (see extra_fields.hpp). A malformed line is
// skipped with a warning that names the file and line number (and never the password), so one bad
// line does not lock every user out.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/extra_fields.hpp"
#include "auth/secret_string.hpp"
#include "util/result.hpp"

namespace pop3d {

// A passwd file of 100,000 users with long hashes and extra fields is about
// 20 MiB; anything past this is not a passwd file (or is a mistake such as
// pointing at a log), and reading it would only eat the master's memory.
inline constexpr size_t kMaxPasswdFileBytes = 64u << 20;
// Hashes and extra fields fit comfortably; a longer line is garbage.
inline constexpr size_t kMaxPasswdLineBytes = 64u << 10;
// RFC 5321 caps a mailbox address at 254 bytes; login names are no longer.
inline constexpr size_t kMaxUserNameBytes = 254;

struct PasswdEntry {
  std::string name;     // the canonical name: user= if given, else the login name
  SecretString secret;  // "{SCHEME}body" as stored; empty when blocked
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;  // userdb_home= if given, else the home column
  size_t line = 0;   // where it came from, for messages
  // The extra fields that login() still has to apply; null when none.
  std::shared_ptr<const ExtraFields> extra;
};

// A file whose users have more cost classes than this is unusual (each
// class is a scheme and, for crypt(3), a cost); refusals then cost a check
// in the most common classes only, and users of the rarest stand out.
inline constexpr size_t kMaxCostClassModels = 8;

struct PasswdTable {
  std::unordered_map<std::string, PasswdEntry> users;  // by login name
  size_t skipped_lines = 0;                            // malformed lines that were left out
  size_t plaintext_users = 0;                          // users whose secret APOP can use
  size_t unusable_users = 0;                           // unsupported scheme or empty secret
  // A user whose secret costs what most users' secrets cost to verify
  // (the most common verification_cost_class()), "" when there is none.
  // Failed lookups verify against it, so that an unknown name takes as
  // long as a known one and response times do not reveal who exists.
  std::string typical_user;
  // One user per cost class the file holds (the first seen of each), the
  // most common classes first, at most kMaxCostClassModels: a refused
  // login costs one check in each (see PasswdFileUsers).
  std::vector<std::string> cost_class_models;

  const PasswdEntry* find(std::string_view name) const;
};

// Parses `content`; `file_name` is only for the warnings. An empty uid or
// gid becomes the calling process's (getuid()/getgid()).
PasswdTable parse_passwd_file(std::string_view content, std::string_view file_name);

// Reads and parses the file at `path`, refusing anything but a regular file
// of at most kMaxPasswdFileBytes. The copy of the file text is wiped after
// parsing since it holds every secret.
struct FileIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  long long mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};
struct LoadedPasswdFile {
  PasswdTable table;
  FileIdentity identity;  // of the file that was read, for change checks
};
Result<LoadedPasswdFile> load_passwd_file(const std::string& path);

// The identity of what is at `path` now, to see whether it changed.
Result<FileIdentity> stat_passwd_file(const std::string& path);

}  // namespace pop3d
