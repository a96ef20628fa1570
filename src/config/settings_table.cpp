// The settings table and the value parsing every face of it shares.
#include "config/settings_table.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <type_traits>
#include <utility>

#include "config/config.hpp"
#include "mailstore/uid_source.hpp"

namespace pop3d {

namespace {

using std::int64_t;

constexpr int64_t kMsPerDay = 24LL * 3600 * 1000;

// Limits for the values a user can give. Each says why it is where it is.
// TCP ports are 16-bit and 0 means "any port", which a listener cannot use.
constexpr int64_t kMinPort = 1;
constexpr int64_t kMaxPort = 65535;
// Each connection is a worker process; beyond ten thousand the host runs
// out of processes long before pop3d's limit matters.
constexpr int64_t kMaxConnections = 10000;
// Time-outs under a second would drop clients on any network hiccup.
constexpr int64_t kMinTimeoutMs = 1000;
// A day: a session idle longer than that is certainly dead.
constexpr int64_t kMaxSessionTimeoutMs = 24LL * 3600 * 1000;
// Anti-hammering memory and blocks longer than 30 days are better done in
// the firewall; the bound also keeps time arithmetic far from overflow.
constexpr int64_t kMaxBlockTimeMs = 30LL * 24 * 3600 * 1000;
// The failure delay holds a worker slot; a minute already frustrates any
// password guesser, longer only starves honest users of slots.
constexpr int64_t kMaxFailureDelayMs = 60LL * 1000;
// A proxy sends its header with the connection's first segment; a tenth of
// a second covers a loaded LAN, and a proxy that takes a minute is broken.
constexpr int64_t kMinProxyTimeoutMs = 100;
constexpr int64_t kMaxProxyTimeoutMs = 60LL * 1000;
// IPv6 prefix lengths are 1-128 bits by definition.
constexpr int64_t kMaxIpv6Prefix = 128;
// Fewer than 16 slots would evict on every failure; a million entries at a
// few dozen bytes each is already tens of megabytes in every process.
constexpr int64_t kMinTableSize = 16;
constexpr int64_t kMaxTableSize = 1000000;
// Redis answers a local network in well under a millisecond; 10 ms is the
// least that survives a busy host, and a login should never wait longer
// than 10 s for state it can do without.
constexpr int64_t kMinSharedStateTimeoutMs = 10;
constexpr int64_t kMaxSharedStateTimeoutMs = 10LL * 1000;
// A lease renewed every third of it: below a second the renewals would
// be most of the worker's Redis traffic; above an hour a dead node's
// sessions would hold addresses out for longer than any session lasts.
constexpr int64_t kMinSharedStateLeaseMs = 1000;
constexpr int64_t kMaxSharedStateLeaseMs = 3600LL * 1000;
// RFC 1939 bounds failures per client nowhere; a thousand is "never block".
constexpr int64_t kMaxFailures = 1000;
// uids are 32-bit, but the setting is an int; no distribution hands out
// uids past 2^31 to people who read mail.
constexpr int64_t kMaxUid = std::numeric_limits<int>::max();

SettingDef base_def(std::string name, SettingType type, std::string default_text,
                    std::string help) {
  SettingDef d;
  d.name = std::move(name);
  d.type = type;
  d.default_text = std::move(default_text);
  d.help = std::move(help);
  return d;
}

template <typename Access>
SettingDef bool_setting(std::string name, std::string def, std::string help, Access field) {
  SettingDef d = base_def(std::move(name), SettingType::kBool, std::move(def), std::move(help));
  d.set = [field](Settings& s, const std::string&, const SettingValue& v) {
    field(s) = std::get<bool>(v);
  };
  d.get = [field](const Settings& s, const std::string&) -> SettingValue { return field(s); };
  return d;
}

template <typename Access>
SettingDef int_setting(std::string name, int64_t min, int64_t max, std::string def,
                       std::string help, Access field) {
  SettingDef d = base_def(std::move(name), SettingType::kInt, std::move(def), std::move(help));
  d.min = min;
  d.max = max;
  d.set = [field](Settings& s, const std::string&, const SettingValue& v) {
    field(s) = static_cast<int>(std::get<int64_t>(v));
  };
  d.get = [field](const Settings& s, const std::string&) -> SettingValue {
    return static_cast<int64_t>(field(s));
  };
  return d;
}

template <typename Access>
SettingDef duration_setting(std::string name, int64_t min_ms, int64_t max_ms, std::string def,
                            std::string help, Access field) {
  SettingDef d = base_def(std::move(name), SettingType::kDuration, std::move(def), std::move(help));
  d.min = min_ms;
  d.max = max_ms;
  using Stored = std::remove_reference_t<decltype(field(std::declval<Settings&>()))>;
  d.whole_seconds = std::is_same_v<Stored, Seconds>;
  d.set = [field](Settings& s, const std::string&, const SettingValue& v) {
    field(s) = std::chrono::duration_cast<Stored>(std::get<Millis>(v));
  };
  d.get = [field](const Settings& s, const std::string&) -> SettingValue {
    return std::chrono::duration_cast<Millis>(field(s));
  };
  return d;
}

template <typename Access>
SettingDef string_setting(std::string name, bool nonempty, std::string def, std::string help,
                          Access field) {
  SettingDef d = base_def(std::move(name), SettingType::kString, std::move(def), std::move(help));
  d.nonempty = nonempty;
  d.set = [field](Settings& s, const std::string&, const SettingValue& v) {
    field(s) = std::get<std::string>(v);
  };
  d.get = [field](const Settings& s, const std::string&) -> SettingValue { return field(s); };
  return d;
}

template <typename Access>
SettingDef list_setting(std::string name, std::string def, std::string help, Access field) {
  SettingDef d = base_def(std::move(name), SettingType::kList, std::move(def), std::move(help));
  d.set = [field](Settings& s, const std::string&, const SettingValue& v) {
    field(s) = std::get<std::vector<std::string>>(v);
  };
  d.get = [field](const Settings& s, const std::string&) -> SettingValue { return field(s); };
  return d;
}

// An enum setting whose words map to values of E, in the order given.
template <typename E, typename Access>
SettingDef enum_setting(std::string name, std::vector<std::pair<std::string, E>> words,
                        std::string def, std::string help, Access field) {
  SettingDef d = base_def(std::move(name), SettingType::kEnum, std::move(def), std::move(help));
  for (const auto& w : words) d.choices.push_back(w.first);
  d.set = [field, words](Settings& s, const std::string&, const SettingValue& v) {
    const auto& word = std::get<std::string>(v);
    for (const auto& w : words) {
      if (w.first == word) field(s) = w.second;
    }
  };
  d.get = [field, words](const Settings& s, const std::string&) -> SettingValue {
    for (const auto& w : words) {
      if (w.second == field(s)) return w.first;
    }
    return std::string("?");
  };
  return d;
}

template <typename Access>
SettingDef certificate_setting(std::string name, std::string help, Access field) {
  SettingDef d = base_def(std::move(name), SettingType::kString, "", std::move(help));
  d.nonempty = true;
  d.set = [field](Settings& s, const std::string& instance, const SettingValue& v) {
    field(s.certificates[instance]) = std::get<std::string>(v);
  };
  d.get = [field](const Settings& s, const std::string& instance) -> SettingValue {
    auto it = s.certificates.find(instance);
    return it == s.certificates.end() ? std::string() : field(it->second);
  };
  return d;
}

std::vector<SettingDef> build_table() {
  std::vector<SettingDef> t;
  const std::vector<std::pair<std::string, BindMode>> bind_modes = {
      {"default", BindMode::kDefault}, {"all", BindMode::kAll}, {"list", BindMode::kList}};
  const std::vector<std::pair<std::string, PlaintextAuth>> plaintext_modes = {
      {"tls-only", PlaintextAuth::kTlsOnly}, {"allow", PlaintextAuth::kAllow}};
  const std::vector<std::pair<std::string, LogLevel>> log_levels = {{"error", LogLevel::kError},
                                                                    {"warning", LogLevel::kWarning},
                                                                    {"notice", LogLevel::kNotice},
                                                                    {"info", LogLevel::kInfo},
                                                                    {"debug", LogLevel::kDebug}};
  // auth.backend is a string in Settings so later back-ends need no header
  // change; the table still only lets through the names that exist.
  const std::vector<std::pair<std::string, std::string>> backends = {
      {"passwd-file", "passwd-file"}, {"system", "system"}, {"pam", "pam"}};

  // general
  t.push_back(list_setting(
      "general.bind_addresses", "0.0.0.0;::",
      "Addresses every service listens on when its bind is \"default\" (';'-separated).",
      [](auto& s) -> auto& { return s.general.bind_addresses; }));
  t.push_back(string_setting(
      "general.user", true, "pop3d", "Unprivileged user the workers run as.",
      [](auto& s) -> auto& { return s.general.user; }));
  t.push_back(string_setting(
      "general.group", true, "pop3d", "Group the workers run as.",
      [](auto& s) -> auto& { return s.general.group; }));
  t.push_back(string_setting(
      "general.pid_file", true, "/run/pop3d/pop3d.pid", "File the master writes its process id to.",
      [](auto& s) -> auto& { return s.general.pid_file; }));
  t.push_back(int_setting(
      "general.max_connections_per_ip", 0, kMaxConnections, "20",
      "Most simultaneous connections from one address (IPv6: per "
      "anti_hammering.ipv6_prefix network), across the cluster with shared_state.backend "
      "\"redis\"; 0 means no limit.",
      [](auto& s) -> auto& { return s.general.max_connections_per_ip; }));
  t.push_back(duration_setting(
      "general.shutdown_timeout", kMinTimeoutMs, kMaxSessionTimeoutMs, "30s",
      "How long sessions may finish on shutdown before they are cut off.",
      [](auto& s) -> auto& { return s.general.shutdown_timeout; }));
  t.push_back(string_setting(
      "general.hostname", false, "", "Name in the greeting; empty means the system's host name.",
      [](auto& s) -> auto& { return s.general.hostname; }));
  t.push_back(bool_setting(
      "general.verbose_proctitle", "true",
      "Show the user and client address in the workers' process titles (ps); false for hosts "
      "whose other local users must not see them.",
      [](auto& s) -> auto& { return s.general.verbose_proctitle; }));
  t.push_back(int_setting(
      "general.anti_hammering.max_failures", 1, kMaxFailures, "5",
      "Failed logins from one address within failure_timeout before it is blocked.",
      [](auto& s) -> auto& { return s.general.anti_hammering.max_failures; }));
  t.push_back(duration_setting(
      "general.anti_hammering.failure_timeout", kMinTimeoutMs, kMaxBlockTimeMs, "10m",
      "How long a failed login counts against its address.",
      [](auto& s) -> auto& { return s.general.anti_hammering.failure_timeout; }));
  t.push_back(duration_setting(
      "general.anti_hammering.block_time", kMinTimeoutMs, kMaxBlockTimeMs, "30m",
      "How long a blocked address stays blocked.",
      [](auto& s) -> auto& { return s.general.anti_hammering.block_time; }));
  t.push_back(int_setting(
      "general.anti_hammering.ipv6_prefix", 1, kMaxIpv6Prefix, "64",
      "IPv6 clients are counted per network of this prefix length, not per address.",
      [](auto& s) -> auto& { return s.general.anti_hammering.ipv6_prefix; }));
  t.push_back(int_setting(
      "general.anti_hammering.table_size", kMinTableSize, kMaxTableSize, "4096",
      "Most addresses remembered at once; the oldest are forgotten first.",
      [](auto& s) -> auto& { return s.general.anti_hammering.table_size; }));

  const std::vector<std::pair<std::string, std::string>> shared_backends = {{"local", "local"},
                                                                            {"redis", "redis"}};
  t.push_back(enum_setting(
      "general.shared_state.backend", shared_backends, "local",
      "Where anti-hammering failures and blocks, and the sessions counted for "
      "general.max_connections_per_ip, are kept: \"local\" (this node's tables) or "
      "\"redis\" (every node with the same redis and key_prefix; a node falls back on its "
      "own tables while Redis does not answer).",
      [](auto& s) -> auto& { return s.general.shared_state.backend; }));
  t.push_back(string_setting(
      "general.shared_state.redis", true, "127.0.0.1:6379",
      "The Redis server: host:port, [IPv6]:port or unix:/path/to/socket.",
      [](auto& s) -> auto& { return s.general.shared_state.redis; }));
  t.push_back(string_setting(
      "general.shared_state.password_file", false, "",
      "File whose first line is the Redis password, or \"user password\" for an ACL user; "
      "read at start-up (it may be root's alone). Empty: no AUTH.",
      [](auto& s) -> auto& { return s.general.shared_state.password_file; }));
  t.push_back(string_setting(
      "general.shared_state.key_prefix", false,
      "pop3d:", "Prefix of every Redis key pop3d writes; the nodes of one cluster share it.",
      [](auto& s) -> auto& { return s.general.shared_state.key_prefix; }));
  t.push_back(duration_setting(
      "general.shared_state.timeout", kMinSharedStateTimeoutMs, kMaxSharedStateTimeoutMs, "200ms",
      "Longest a login waits for Redis; after that the node decides alone, and tries Redis "
      "again a second later.",
      [](auto& s) -> auto& { return s.general.shared_state.timeout; }));
  t.push_back(duration_setting(
      "general.shared_state.lease", kMinSharedStateLeaseMs, kMaxSharedStateLeaseMs, "30s",
      "How long a session counts toward general.max_connections_per_ip, and holds its "
      "maildrop's lease, in Redis after its node last renewed them (every third of this): "
      "the sessions of a node that died stop counting, and free their maildrops, within it. "
      "At least three times timeout.",
      [](auto& s) -> auto& { return s.general.shared_state.lease; }));

  // pop3
  t.push_back(bool_setting(
      "pop3.enabled", "true", "Serve POP3 at all.",
      [](auto& s) -> auto& { return s.pop3.enabled; }));
  t.push_back(int_setting(
      "pop3.port", kMinPort, kMaxPort, "110",
      "Port for plain POP3 (and STLS when explicit_ssl is on).",
      [](auto& s) -> auto& { return s.pop3.port; }));
  t.push_back(int_setting(
      "pop3.max_connections", 1, kMaxConnections, "200", "Most simultaneous POP3 sessions.",
      [](auto& s) -> auto& { return s.pop3.max_connections; }));
  t.push_back(duration_setting(
      "pop3.idle_timeout", kMinTimeoutMs, kMaxSessionTimeoutMs, "10m",
      "A session idle this long is closed (RFC 1939 asks for at least 10 minutes).",
      [](auto& s) -> auto& { return s.pop3.idle_timeout; }));
  t.push_back(duration_setting(
      "pop3.login_timeout", kMinTimeoutMs, kMaxSessionTimeoutMs, "60s",
      "A client that has not logged in this long after connecting is closed.",
      [](auto& s) -> auto& { return s.pop3.login_timeout; }));
  t.push_back(enum_setting(
      "pop3.bind", bind_modes, "default",
      "Where to listen: general.bind_addresses, every address, or pop3.listen.",
      [](auto& s) -> auto& { return s.pop3.bind; }));
  t.push_back(list_setting(
      "pop3.listen", "", "Addresses or host names to listen on when bind is \"list\".",
      [](auto& s) -> auto& { return s.pop3.listen; }));
  t.push_back(bool_setting(
      "pop3.explicit_ssl", "true", "Offer STLS on the plain port (RFC 2595).",
      [](auto& s) -> auto& { return s.pop3.explicit_ssl; }));
  t.push_back(bool_setting(
      "pop3.legacy_ssl", "false", "Also accept the pre-RFC 2595 command STARTTLS.",
      [](auto& s) -> auto& { return s.pop3.legacy_ssl; }));
  t.push_back(bool_setting(
      "pop3.implicit_ssl", "false", "Serve POP3 over TLS from the first byte on ssl_port (POP3S).",
      [](auto& s) -> auto& { return s.pop3.implicit_ssl; }));
  t.push_back(int_setting(
      "pop3.ssl_port", kMinPort, kMaxPort, "995", "Port for implicit TLS (POP3S).",
      [](auto& s) -> auto& { return s.pop3.ssl_port; }));
  t.push_back(string_setting(
      "pop3.certificate", true, "default", "Name of the entry under certificates that TLS uses.",
      [](auto& s) -> auto& { return s.pop3.certificate; }));
  t.push_back(enum_setting(
      "pop3.plaintext_auth", plaintext_modes, "tls-only",
      "Whether USER/PASS is allowed without TLS outside secure_networks.",
      [](auto& s) -> auto& { return s.pop3.plaintext_auth; }));
  t.push_back(list_setting(
      "pop3.secure_networks", "127.0.0.0/8;::1",
      "Networks where plaintext login is allowed even when plaintext_auth is tls-only.",
      [](auto& s) -> auto& { return s.pop3.secure_networks; }));
  t.push_back(bool_setting(
      "pop3.anti_hammering", "true",
      "Block addresses with too many failed logins "
      "(see general.anti_hammering).",
      [](auto& s) -> auto& { return s.pop3.anti_hammering; }));
  t.push_back(bool_setting(
      "pop3.blocked_ips.enabled", "false",
      "Refuse connections from the addresses in blocked_ips.list (unless safe_ips lets them in).",
      [](auto& s) -> auto& { return s.pop3.blocked_ips.enabled; }));
  t.push_back(list_setting(
      "pop3.blocked_ips.list", "",
      "Addresses, CIDR blocks, ranges (a-b) or wildcards (10.1.*) refused before the greeting.",
      [](auto& s) -> auto& { return s.pop3.blocked_ips.list; }));
  t.push_back(bool_setting(
      "pop3.safe_ips.enabled", "false",
      "Always let in the addresses in safe_ips.list, even when blocked_ips holds them.",
      [](auto& s) -> auto& { return s.pop3.safe_ips.enabled; }));
  t.push_back(list_setting(
      "pop3.safe_ips.list", "",
      "Addresses, CIDR blocks, ranges or wildcards that overrule blocked_ips (not anti-hammering).",
      [](auto& s) -> auto& { return s.pop3.safe_ips.list; }));
  t.push_back(string_setting(
      "pop3.uidl_format", true, "auto",
      "UIDLs: \"auto\" keeps what clients know (Dovecot's uids where a dovecot-uidlist is, "
      "else file names); or a Dovecot pop3_uidl_format such as %08Xu%08Xv (doc/MIGRATING.md).",
      [](auto& s) -> auto& { return s.pop3.uidl_format; }));
  t.push_back(bool_setting(
      "pop3.mark_retrieved_seen", "true",
      "At QUIT, mark the messages the session RETRieved as read (the Maildir S flag that IMAP "
      "shows), as Dovecot does.",
      [](auto& s) -> auto& { return s.pop3.mark_retrieved_seen; }));
  t.push_back(bool_setting(
      "pop3.proxy_protocol", "false",
      "Both ports expect a PROXY protocol header (v1 or v2, as HAProxy's send-proxy sends) "
      "from a proxy in proxy_trusted_networks, and use the client address it gives.",
      [](auto& s) -> auto& { return s.pop3.proxy_protocol; }));
  t.push_back(list_setting(
      "pop3.proxy_trusted_networks", "",
      "The proxies allowed to connect when proxy_protocol is on; anyone else is closed "
      "unanswered.",
      [](auto& s) -> auto& { return s.pop3.proxy_trusted_networks; }));
  t.push_back(duration_setting(
      "pop3.proxy_timeout", kMinProxyTimeoutMs, kMaxProxyTimeoutMs, "3s",
      "A proxy's connection whose PROXY header has not fully arrived this long after "
      "connecting is closed.",
      [](auto& s) -> auto& { return s.pop3.proxy_timeout; }));

  // auth
  t.push_back(enum_setting(
      "auth.backend", backends, "passwd-file", "Where users and passwords come from.",
      [](auto& s) -> auto& { return s.auth.backend; }));
  SettingDef passwd = string_setting(
      "auth.passwd_file", true, POP3D_SYSCONFDIR "/pop3d/passwd",
      "The passwd-file back-end's user file (user:scheme-hash:uid:gid::home).",
      [](auto& s) -> auto& { return s.auth.passwd_file; });
  passwd.build_dependent_default = true;
  t.push_back(std::move(passwd));
  t.push_back(string_setting(
      "auth.mail_location", true, "%h/Maildir",
      "The user's Maildir; %h is the home directory, %u the user name.",
      [](auto& s) -> auto& { return s.auth.mail_location; }));
  t.push_back(duration_setting(
      "auth.failure_delay", 0, kMaxFailureDelayMs, "2s",
      "Pause before answering a failed login, to slow guessing.",
      [](auto& s) -> auto& { return s.auth.failure_delay; }));
  t.push_back(int_setting(
      "auth.first_valid_uid", 0, kMaxUid, "1000",
      "System users (backend \"system\") with a lower uid cannot log in; root never can.",
      [](auto& s) -> auto& { return s.auth.first_valid_uid; }));
  t.push_back(string_setting(
      "auth.pam_service", true, "pop3",
      "The PAM service (/etc/pam.d/NAME) that checks passwords for backend \"pam\".",
      [](auto& s) -> auto& { return s.auth.pam_service; }));

  // mailstore
  const std::vector<std::pair<std::string, std::string>> sharing = {
      {"auto", "auto"}, {"yes", "yes"}, {"no", "no"}};
  t.push_back(enum_setting(
      "mailstore.shared_storage", sharing, "auto",
      "Maildirs on storage other hosts mount too (NFS, GlusterFS or other FUSE, CephFS, SMB), "
      "whose caches report folder times late: the index never stands in for a listing. "
      "\"auto\" asks each maildrop's file system.",
      [](auto& s) -> auto& { return s.mailstore.shared_storage; }));

  // log
  t.push_back(string_setting(
      "log.target", true, "syslog",
      "\"syslog\" (facility mail), \"stderr\", or a file to append to.",
      [](auto& s) -> auto& { return s.log.target; }));
  t.push_back(enum_setting(
      "log.level", log_levels, "info", "Least important messages logged.",
      [](auto& s) -> auto& { return s.log.level; }));

  // stats
  t.push_back(string_setting(
      "stats.listen", false, "",
      "Address and port to serve Prometheus metrics on (GET /metrics), from a process of its "
      "own: \"127.0.0.1:9110\", a host name, or \"[::1]:9110\". Empty: off. No "
      "authentication: bind it where only the scrapers can reach it.",
      [](auto& s) -> auto& { return s.stats.listen; }));

  // certificates.NAME
  t.push_back(certificate_setting(
      "certificates.*.cert_file", "PEM file: the certificate followed by its chain.",
      [](auto& c) -> auto& { return c.cert_file; }));
  t.push_back(certificate_setting(
      "certificates.*.key_file", "PEM file: the private key.",
      [](auto& c) -> auto& { return c.key_file; }));
  return t;
}

bool name_matches(const std::string& pattern, const std::string& name, std::string* instance) {
  const auto star = pattern.find('*');
  if (star == std::string::npos) return pattern == name;
  const std::string prefix = pattern.substr(0, star);
  const std::string suffix = pattern.substr(star + 1);
  if (name.size() <= prefix.size() + suffix.size()) return false;
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  std::string middle = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (!valid_instance_name(middle)) return false;
  if (instance) *instance = std::move(middle);
  return true;
}

Error type_error(const SettingDef& def, const std::string& got) {
  std::string msg = "expected " + describe_setting_type(def) + ", got '" + got + "'";
  if (def.type == SettingType::kDuration) msg += std::string("; ") + kDurationSyntax;
  return Error{msg};
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

bool valid_instance_name(const std::string& name) {
  // The characters libconfig allows in a setting name, so that every
  // certificate given on the command line can be printed back as config.
  if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

const std::vector<SettingDef>& settings_table() {
  static const std::vector<SettingDef> table = build_table();
  return table;
}

const SettingDef* find_setting(const std::string& name, std::string* instance) {
  for (const auto& def : settings_table()) {
    std::string inst;
    if (name_matches(def.name, name, &inst)) {
      if (instance) *instance = inst;
      return &def;
    }
  }
  return nullptr;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest_setting_name(const std::string& name) {
  // The distance costs length times length for each candidate, and a
  // certificate name is taken from the input: a name of thousands of
  // octets (found by fuzz_config) took seconds. No real typo is that long.
  if (name.size() > kMaxSuggestedNameLength) return std::string();
  // Candidates are every setting and every group ("pop4" -> "pop3"); for
  // certificates, within the certificate the user named, if they named one.
  // Groups carry a penalty of one so that, for a mistyped setting, the
  // setting wins over the group it sits in.
  std::vector<std::pair<std::string, size_t>> candidates;
  for (const auto& def : settings_table()) {
    std::string full = def.name;
    if (def.is_instance()) {
      std::string inst = "NAME";
      const std::string prefix = def.name.substr(0, def.name.find('*'));
      if (name.compare(0, prefix.size(), prefix) == 0) {
        const auto rest = name.substr(prefix.size());
        const auto dot = rest.find('.');
        if (dot != std::string::npos && dot > 0) inst = rest.substr(0, dot);
      }
      full.replace(full.find('*'), 1, inst);
    }
    for (auto dot = full.find('.'); dot != std::string::npos; dot = full.find('.', dot + 1)) {
      candidates.emplace_back(full.substr(0, dot), 1);
    }
    candidates.emplace_back(full, 0);
  }
  std::string best;
  size_t best_score = std::numeric_limits<size_t>::max();
  for (const auto& [candidate, penalty] : candidates) {
    size_t score = edit_distance(name, candidate) + penalty;
    // A name given without its group ("port") is matched by its last part,
    // so the suggestion is the full name rather than nothing.
    const std::string tail = "." + name;
    if (candidate.size() > tail.size() &&
        candidate.compare(candidate.size() - tail.size(), tail.size(), tail) == 0) {
      score = std::min<size_t>(score, 1);
    }
    if (score < best_score) {
      best_score = score;
      best = candidate;
    }
  }
  // Beyond a third of the name wrong, the "nearest" name is a guess that
  // misleads more than it helps.
  const size_t allowed = std::max<size_t>(2, name.size() / 3);
  return best_score <= allowed ? best : std::string();
}

std::string format_duration(Millis d) {
  const int64_t ms = d.count();
  if (ms != 0 && ms % kMsPerDay == 0) return std::to_string(ms / kMsPerDay) + "d";
  if (ms != 0 && ms % (3600 * 1000) == 0) return std::to_string(ms / (3600 * 1000)) + "h";
  if (ms != 0 && ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string describe_setting_type(const SettingDef& def) {
  switch (def.type) {
    case SettingType::kBool:
      return "true or false";
    case SettingType::kInt:
      return "an integer " + std::to_string(def.min) + "-" + std::to_string(def.max);
    case SettingType::kDuration:
      return "a duration from " + format_duration(Millis(def.min)) + " to " +
             format_duration(Millis(def.max)) + (def.whole_seconds ? ", in whole seconds" : "");
    case SettingType::kString:
      return def.nonempty ? "a non-empty string" : "a string";
    case SettingType::kEnum: {
      std::string out = "one of";
      for (size_t i = 0; i < def.choices.size(); ++i) {
        out += (i == 0 ? " " : i + 1 == def.choices.size() ? " or " : ", ");
        out += "\"" + def.choices[i] + "\"";
      }
      return out;
    }
    case SettingType::kList:
      return "a list of strings (\"a;b\" or [\"a\", \"b\"])";
  }
  return "?";
}

Result<SettingValue> check_setting_value(const SettingDef& def, SettingValue value) {
  switch (def.type) {
    case SettingType::kBool:
      break;
    case SettingType::kInt: {
      const int64_t n = std::get<int64_t>(value);
      if (n < def.min || n > def.max) return type_error(def, std::to_string(n));
      break;
    }
    case SettingType::kDuration: {
      const Millis d = std::get<Millis>(value);
      if (d.count() < def.min || d.count() > def.max ||
          (def.whole_seconds && d.count() % 1000 != 0)) {
        return type_error(def, format_duration(d));
      }
      break;
    }
    case SettingType::kString:
      if (def.nonempty && std::get<std::string>(value).empty()) return type_error(def, "");
      if (def.name == "pop3.uidl_format") {
        // Parsed now so a bad format stops the load, naming its variable.
        if (auto c = UidlChoice::parse(std::get<std::string>(value)); !c) return c.error();
      }
      break;
    case SettingType::kEnum: {
      const auto& word = std::get<std::string>(value);
      if (std::find(def.choices.begin(), def.choices.end(), word) == def.choices.end()) {
        return type_error(def, word);
      }
      break;
    }
    case SettingType::kList:
      for (const auto& item : std::get<std::vector<std::string>>(value)) {
        // ';' separates items in the text form, so it cannot be in one.
        if (item.find(';') != std::string::npos) {
          return Error{"list items cannot contain ';', got '" + item + "'"};
        }
        if (item.empty()) return Error{"list items cannot be empty"};
      }
      break;
  }
  return value;
}

namespace {

// Parses an optionally signed decimal integer with nothing after it.
bool parse_int(std::string_view text, int64_t* out) {
  if (text.empty()) return false;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (*first == '+') ++first;
  auto [ptr, ec] = std::from_chars(first, last, *out);
  return ec == std::errc() && ptr == last && first != last;
}

}  // namespace

Result<SettingValue> parse_setting_text(const SettingDef& def, const std::string& text) {
  switch (def.type) {
    case SettingType::kBool: {
      const std::string w = lower(trim(text));
      if (w == "true" || w == "yes" || w == "on" || w == "1") return SettingValue(true);
      if (w == "false" || w == "no" || w == "off" || w == "0") return SettingValue(false);
      return type_error(def, text);
    }
    case SettingType::kInt: {
      int64_t n = 0;
      if (!parse_int(trim(text), &n)) return type_error(def, text);
      return check_setting_value(def, n);
    }
    case SettingType::kDuration: {
      const std::string t = trim(text);
      const auto unit_at = t.find_first_not_of("0123456789");
      const std::string digits = t.substr(0, unit_at);
      const std::string unit = unit_at == std::string::npos ? "" : t.substr(unit_at);
      int64_t per_unit_ms = 0;
      if (unit.empty() || unit == "s")
        per_unit_ms = 1000;
      else if (unit == "ms")
        per_unit_ms = 1;
      else if (unit == "m")
        per_unit_ms = 60 * 1000;
      else if (unit == "h")
        per_unit_ms = 3600 * 1000;
      else if (unit == "d")
        per_unit_ms = kMsPerDay;
      int64_t n = 0;
      if (per_unit_ms == 0 || !parse_int(digits, &n)) return type_error(def, text);
      // Checked before multiplying so a huge number cannot wrap around into
      // range.
      if (n > def.max / per_unit_ms + 1) return type_error(def, text);
      return check_setting_value(def, Millis(n * per_unit_ms));
    }
    case SettingType::kString:
    case SettingType::kEnum:
      return check_setting_value(def, text);
    case SettingType::kList: {
      std::vector<std::string> items;
      size_t start = 0;
      while (start <= text.size()) {
        size_t end = text.find(';', start);
        if (end == std::string::npos) end = text.size();
        std::string item = trim(std::string_view(text).substr(start, end - start));
        if (!item.empty()) items.push_back(std::move(item));
        start = end + 1;
      }
      return check_setting_value(def, std::move(items));
    }
  }
  return type_error(def, text);
}

std::string format_setting_value(const SettingDef& def, const SettingValue& v) {
  switch (def.type) {
    case SettingType::kBool:
      return std::get<bool>(v) ? "true" : "false";
    case SettingType::kInt:
      return std::to_string(std::get<int64_t>(v));
    case SettingType::kDuration:
      return format_duration(std::get<Millis>(v));
    case SettingType::kString:
    case SettingType::kEnum:
      return std::get<std::string>(v);
    case SettingType::kList: {
      std::string out;
      for (const auto& item : std::get<std::vector<std::string>>(v)) {
        if (!out.empty()) out += ";";
        out += item;
      }
      return out;
    }
  }
  return {};
}

}  // namespace pop3d
