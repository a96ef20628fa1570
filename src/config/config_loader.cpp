// Loading: a libconfig file walked setting by setting against the table,
// then command-line overrides, then the checks that span several settings.
// Every libconfig exception is caught here; callers only see Result values.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <libconfig.h++>
#include <map>
#include <memory>

#include "config/config.hpp"
#include "config/include_check.hpp"
#include "config/settings_table.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

namespace {

// RFC 1939 section 3: an autologout timer "MUST be of at least 10 minutes'
// duration". Shorter is the admin's call, so it is a warning, not an error.
constexpr Seconds kRfc1939MinIdleTimeout{600};

// A config file bigger than this is not a pop3d config; refusing it keeps a
// wrong path (a log file, a mailbox) from being parsed at length.
constexpr off_t kMaxConfigFileBytes = 1024 * 1024;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

class SettingsBuilder {
 public:
  SettingsBuilder(std::string source) : source_(std::move(source)) {
    settings_ = default_settings();
    settings_.config_file = source_;
  }

  Status apply_file(const libconfig::Config& cfg) { return walk_group(cfg.getRoot()); }
  Status apply_override(const Override& o);
  // Checks that span settings; fills warnings.
  Status check(std::vector<std::string>* warnings) const;

  Settings& settings() { return settings_; }

 private:
  Status walk_group(const libconfig::Setting& group);
  Status apply_leaf(const libconfig::Setting& leaf, const std::string& path);
  std::string where(const libconfig::Setting& s) const {
    const char* file = s.getSourceFile();
    return std::string(file ? file : source_) + ":" + std::to_string(s.getSourceLine());
  }
  std::string origin(const std::string& name) const {
    auto it = origins_.find(name);
    return it == origins_.end() ? source_ : it->second;
  }

  std::string source_;
  Settings settings_;
  std::map<std::string, std::string> origins_;  // setting -> "FILE:LINE" or command line
  bool certificates_replaced_ = false;
};

bool is_int(const libconfig::Setting& s) {
  return s.getType() == libconfig::Setting::TypeInt || s.getType() == libconfig::Setting::TypeInt64;
}

// libconfig throws when an int is read as the other width, so read each as
// what it is.
long long int_of(const libconfig::Setting& s) {
  if (s.getType() == libconfig::Setting::TypeInt) return static_cast<int>(s);
  return static_cast<long long>(s);
}

std::string describe_libconfig(const libconfig::Setting& s) {
  switch (s.getType()) {
    case libconfig::Setting::TypeInt:
    case libconfig::Setting::TypeInt64:
      return "the integer " + std::to_string(int_of(s));
    case libconfig::Setting::TypeFloat:
      return "the number " + std::to_string(static_cast<double>(s));
    case libconfig::Setting::TypeString:
      return "the string \"" + std::string(static_cast<const char*>(s)) + "\"";
    case libconfig::Setting::TypeBoolean:
      return std::string("the boolean ") + (static_cast<bool>(s) ? "true" : "false");
    case libconfig::Setting::TypeGroup:
      return "a group { ... }";
    case libconfig::Setting::TypeArray:
      return "an array [ ... ]";
    case libconfig::Setting::TypeList:
      return "a list ( ... )";
    default:
      return "nothing";
  }
}

Error wrong_type(const SettingDef& def, const libconfig::Setting& s) {
  return Error{"expected " + describe_setting_type(def) + ", got " + describe_libconfig(s)};
}

// Converts one libconfig value to a checked SettingValue of def's type.
Result<SettingValue> value_from_libconfig(const SettingDef& def, const libconfig::Setting& s) {
  const bool is_string = s.getType() == libconfig::Setting::TypeString;
  switch (def.type) {
    case SettingType::kBool:
      if (s.getType() != libconfig::Setting::TypeBoolean) return wrong_type(def, s);
      return check_setting_value(def, static_cast<bool>(s));
    case SettingType::kInt:
      if (!is_int(s)) return wrong_type(def, s);
      return check_setting_value(def, static_cast<std::int64_t>(int_of(s)));
    case SettingType::kDuration:
      if (is_int(s)) {
        const long long n = int_of(s);
        // A bare integer is seconds; anything out of range is refused before
        // the multiplication can overflow.
        if (n < 0 || n > def.max / 1000 + 1) return wrong_type(def, s);
        return check_setting_value(def, Millis(n * 1000));
      }
      if (!is_string) return wrong_type(def, s);
      return parse_setting_text(def, static_cast<const char*>(s));
    case SettingType::kString:
    case SettingType::kEnum:
      if (!is_string) return wrong_type(def, s);
      return check_setting_value(def, std::string(static_cast<const char*>(s)));
    case SettingType::kList: {
      if (is_string) return parse_setting_text(def, static_cast<const char*>(s));
      if (!s.isArray() && !s.isList()) return wrong_type(def, s);
      std::vector<std::string> items;
      for (int i = 0; i < s.getLength(); ++i) {
        if (s[i].getType() != libconfig::Setting::TypeString) {
          return Error{"expected " + describe_setting_type(def) + ", but item " +
                       std::to_string(i + 1) + " is " + describe_libconfig(s[i])};
        }
        items.emplace_back(static_cast<const char*>(s[i]));
      }
      return check_setting_value(def, std::move(items));
    }
  }
  return wrong_type(def, s);
}

// Whether `path` is a group that holds settings ("pop3", "certificates.x").
bool is_known_group(const std::string& path) {
  const std::string prefix = path + ".";
  for (const auto& def : settings_table()) {
    if (!def.is_instance()) {
      if (def.name.compare(0, prefix.size(), prefix) == 0) return true;
      continue;
    }
    // certificates.*.cert_file has the groups "certificates" and
    // "certificates.NAME".
    const std::string head = def.name.substr(0, def.name.find('*'));  // "certificates."
    if (path + "." == head) return true;
    if (path.compare(0, head.size(), head) == 0 && valid_instance_name(path.substr(head.size()))) {
      return true;
    }
  }
  return false;
}

std::string unknown_setting_message(const std::string& name, const std::string& quote_prefix) {
  std::string msg = "unknown setting '" + name + "'";
  const std::string near = nearest_setting_name(name);
  if (!near.empty()) msg += "; did you mean '" + quote_prefix + near + "'?";
  return msg;
}

Status SettingsBuilder::walk_group(const libconfig::Setting& group) {
  for (int i = 0; i < group.getLength(); ++i) {
    const libconfig::Setting& child = group[i];
    const std::string path = child.getPath();
    if (!child.isGroup()) {
      if (auto st = apply_leaf(child, path); !st) return st;
      continue;
    }
    if (const SettingDef* def = find_setting(path, nullptr)) {
      return Error{where(child) + ": " + path + ": " + wrong_type(*def, child).message};
    }
    if (!is_known_group(path)) {
      return Error{where(child) + ": " + unknown_setting_message(path, "")};
    }
    // A certificates group in the file is the whole list of certificates:
    // the built-in snakeoil entry must not linger beside the admin's own.
    if (path == "certificates" && !certificates_replaced_) {
      settings_.certificates.clear();
      certificates_replaced_ = true;
    }
    if (auto st = walk_group(child); !st) return st;
  }
  return {};
}

Status SettingsBuilder::apply_leaf(const libconfig::Setting& leaf, const std::string& path) {
  std::string instance;
  const SettingDef* def = find_setting(path, &instance);
  if (!def) {
    if (is_known_group(path)) {
      return Error{where(leaf) + ": " + path + " is a group of settings; write " + path +
                   " = { ... };"};
    }
    return Error{where(leaf) + ": " + unknown_setting_message(path, "")};
  }
  auto value = value_from_libconfig(*def, leaf);
  if (!value) return Error{where(leaf) + ": " + path + ": " + value.error().message};
  def->set(settings_, instance, *value);
  origins_[path] = where(leaf);
  return {};
}

Status SettingsBuilder::apply_override(const Override& o) {
  const std::string origin_text = "command line: --" + o.name + "=" + o.value;
  std::string instance;
  const SettingDef* def = find_setting(o.name, &instance);
  if (!def) return Error{origin_text + ": " + unknown_setting_message(o.name, "--")};
  auto value = parse_setting_text(*def, o.value);
  if (!value) return Error{origin_text + ": " + value.error().message};
  def->set(settings_, instance, *value);
  origins_[o.name] = origin_text;
  return {};
}

Status SettingsBuilder::check(std::vector<std::string>* warnings) const {
  const Settings& s = settings_;
  for (const auto& [name, cert] : s.certificates) {
    // A name seen only once (say, on the command line) has one half unset.
    const std::string base = "certificates." + name + ".";
    const char* missing = cert.cert_file.empty()  ? "cert_file"
                          : cert.key_file.empty() ? "key_file"
                                                  : nullptr;
    if (missing) {
      const char* given = std::string(missing) == "cert_file" ? "key_file" : "cert_file";
      return Error{origin(base + given) + ": " + base + missing +
                   " is missing; a certificate needs both cert_file and key_file"};
    }
  }
  if (s.certificates.find(s.pop3.certificate) == s.certificates.end()) {
    std::string known;
    for (const auto& entry : s.certificates) known += (known.empty() ? "" : ", ") + entry.first;
    return Error{origin("pop3.certificate") + ": pop3.certificate: no certificate named '" +
                 s.pop3.certificate +
                 "' under certificates (defined: " + (known.empty() ? "none" : known) + ")"};
  }
  if (s.pop3.bind == BindMode::kList && s.pop3.listen.empty()) {
    return Error{origin("pop3.bind") +
                 ": pop3.bind is \"list\" but pop3.listen is empty; name the addresses"};
  }
  if (s.pop3.idle_timeout < kRfc1939MinIdleTimeout) {
    warnings->push_back(origin("pop3.idle_timeout") + ": pop3.idle_timeout is " +
                        format_duration(s.pop3.idle_timeout) +
                        "; RFC 1939 asks for at least 10 minutes");
  }
  return {};
}

// Every setting that names a file the daemon opens after start-up: the
// passwd-file on each re-read, the pid file and the anti-hammering table
// beside it after daemonizing, the log file in the helper and the mail
// agents, the certificates at each reload. All of it happens after
// chdir("/"), so a relative name must be fixed to where pop3d started.
void make_paths_absolute(Settings& s) {
  s.auth.passwd_file = absolute_from_start(s.auth.passwd_file);
  s.general.pid_file = absolute_from_start(s.general.pid_file);
  if (s.log.target != "syslog" && s.log.target != "stderr") {
    s.log.target = absolute_from_start(s.log.target);
  }
  for (auto& [name, cert] : s.certificates) {
    cert.cert_file = absolute_from_start(cert.cert_file);
    cert.key_file = absolute_from_start(cert.key_file);
  }
}

Result<LoadedSettings> finish(SettingsBuilder& b, const std::vector<Override>& overrides) {
  for (const auto& o : overrides) {
    if (auto st = b.apply_override(o); !st) return st.error();
  }
  LoadedSettings out;
  if (auto st = b.check(&out.warnings); !st) return st.error();
  out.settings = std::move(b.settings());
  make_paths_absolute(out.settings);
  return out;
}

// libconfig 1.5 opens @include files itself, from the current directory
// (its include_dir would be put in front of absolute paths as well). After
// the daemon's chdir("/") that is not the directory they were named from;
// so the text is parsed in the start directory, and the previous one comes
// back afterwards. The master is single-threaded: nothing else sees it.
// When the start directory cannot be entered, nothing relative under it
// can be read either, and check_includes (which takes relative paths from
// the start directory itself) refuses them before libconfig looks.
class InStartDirectory {
 public:
  InStartDirectory() {
    const std::string& dir = start_directory();
    if (dir.empty()) return;
    UniqueFd here(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (here && ::chdir(dir.c_str()) == 0) previous_ = std::move(here);
  }
  ~InStartDirectory() {
    if (previous_ && ::fchdir(previous_.get()) != 0) {
      // Cannot happen for a directory held open; "/" is the safe fallback.
      (void)::chdir("/");
    }
  }
  InStartDirectory(const InStartDirectory&) = delete;
  InStartDirectory& operator=(const InStartDirectory&) = delete;

 private:
  UniqueFd previous_;
};

std::string parse_error_text(const libconfig::ParseException& e, const std::string& source) {
  const char* file = e.getFile();
  return std::string(file ? file : source) + ":" + std::to_string(e.getLine()) +
         ": syntax error: " + e.getError();
}

}  // namespace

Settings default_settings() {
  Settings s;
  for (const auto& def : settings_table()) {
    if (def.is_instance()) continue;
    auto v = parse_setting_text(def, def.default_text);
    // The table's defaults are checked by the unit tests; a bad one is a
    // programming error, and leaving the struct's own default is the best
    // that can be done here.
    if (v) def.set(s, "", *v);
  }
  s.certificates["default"] = {"/etc/ssl/certs/ssl-cert-snakeoil.pem",
                               "/etc/ssl/private/ssl-cert-snakeoil.key"};
  return s;
}

const std::string& start_directory() {
  static const std::string dir = [] {
    std::unique_ptr<char, decltype(&std::free)> cwd(::getcwd(nullptr, 0), &std::free);
    return cwd ? std::string(cwd.get()) : std::string();
  }();
  return dir;
}

std::string absolute_from_start(const std::string& path) {
  const std::string& dir = start_directory();
  if (path.empty() || path.front() == '/' || dir.empty()) return path;
  return dir.back() == '/' ? dir + path : dir + "/" + path;
}

Result<LoadedSettings> load_settings(const std::string& given_path,
                                     const std::vector<Override>& overrides) {
  const std::string path = absolute_from_start(given_path);
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "re"));
  if (!file) return Error::from_errno("cannot read config file " + path);
  struct stat st;
  if (::fstat(::fileno(file.get()), &st) != 0) {
    return Error::from_errno("cannot read config file " + path);
  }
  if (S_ISDIR(st.st_mode)) return Error{"cannot read config file " + path + ": is a directory"};
  const Error too_large{"cannot read config file " + path + ": larger than " +
                        std::to_string(kMaxConfigFileBytes) + " bytes; is this the right file?"};
  if (st.st_size > kMaxConfigFileBytes) return too_large;
  // Read once, bounded, and parsed from memory: the text the include check
  // vets is the very text libconfig parses, even if the file changes.
  std::string text;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file.get())) > 0) {
    text.append(buf, n);
    if (text.size() > static_cast<size_t>(kMaxConfigFileBytes)) return too_large;  // it grew
  }
  if (std::ferror(file.get())) return Error{"cannot read config file " + path + ": read error"};
  return load_settings_from_string(text, path, overrides);
}

Result<LoadedSettings> load_settings_from_string(const std::string& text,
                                                 const std::string& source_name,
                                                 const std::vector<Override>& overrides) {
  // libconfig parses a string up to its first NUL and would ignore the rest.
  if (const size_t nul = text.find('\0'); nul != std::string::npos) {
    const auto line =
        1 + std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(nul), '\n');
    return Error{source_name + ":" + std::to_string(line) + ": a NUL byte; is this a text file?"};
  }
  InStartDirectory in_start_directory;
  if (Status s = check_includes(text, source_name, kMaxConfigFileBytes); !s) return s.error();
  libconfig::Config cfg;
  try {
    cfg.readString(text);
  } catch (const libconfig::ParseException& e) {
    return Error{parse_error_text(e, source_name)};
  } catch (const std::exception& e) {
    return Error{source_name + ": " + e.what()};
  }
  SettingsBuilder b(source_name);
  try {
    if (auto walked = b.apply_file(cfg); !walked) return walked.error();
  } catch (const std::exception& e) {
    return Error{source_name + ": " + e.what()};
  }
  return finish(b, overrides);
}

}  // namespace pop3d
