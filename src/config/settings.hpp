// Settings: the typed, immutable view of pop3d's configuration that the rest
// of the program reads. It is filled in from one table (settings_table.cpp),
// which is also the source of the config-file parser, the command line,
// --help, the sample config and the man page, so none of those can disagree.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace pop3d {

using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

enum class BindMode { kDefault, kAll, kList };
enum class PlaintextAuth { kTlsOnly, kAllow };
enum class LogLevel { kError = 0, kWarning, kNotice, kInfo, kDebug };

struct CertificateSettings {
  std::string cert_file;  // PEM, the certificate followed by its chain
  std::string key_file;   // PEM private key
};

struct IpListSettings {
  bool enabled = false;
  std::vector<std::string> list;  // addresses, CIDR blocks, ranges, wildcards
};

struct Settings {
  struct AntiHammering {
    int max_failures = 5;
    Seconds failure_timeout{600};
    Seconds block_time{1800};
    int ipv6_prefix = 64;
    int table_size = 4096;
  };
  // State the nodes of a cluster share (src/sharedstate).
  struct SharedState {
    std::string backend = "local";         // "local" or "redis"
    std::string redis = "127.0.0.1:6379";  // host:port, [v6]:port or unix:/path
    std::string password_file;             // empty: no AUTH
    std::string key_prefix = "pop3d:";
    Millis timeout{200};
    Millis lease{30000};  // a dead node's sessions stop counting after this
  };
  struct General {
    std::vector<std::string> bind_addresses{"0.0.0.0", "::"};
    std::string user = "pop3d";
    std::string group = "pop3d";
    std::string pid_file = "/run/pop3d/pop3d.pid";
    int max_connections_per_ip = 20;  // 0: no limit
    Seconds shutdown_timeout{30};
    std::string hostname;           // empty: gethostname()
    bool verbose_proctitle = true;  // user and address in worker titles
    AntiHammering anti_hammering;
    SharedState shared_state;
  };
  struct Pop3 {
    bool enabled = true;
    int port = 110;
    int max_connections = 200;
    Seconds idle_timeout{600};
    Seconds login_timeout{60};
    BindMode bind = BindMode::kDefault;
    std::vector<std::string> listen;  // for BindMode::kList: IPs or host names
    bool explicit_ssl = true;
    bool legacy_ssl = false;
    bool implicit_ssl = false;
    int ssl_port = 995;
    std::string certificate = "default";
    PlaintextAuth plaintext_auth = PlaintextAuth::kTlsOnly;
    std::vector<std::string> secure_networks{"127.0.0.0/8", "::1"};
    bool anti_hammering = true;
    IpListSettings blocked_ips;
    IpListSettings safe_ips;
    // "auto" or a Dovecot pop3_uidl_format (mailstore/uid_source.hpp).
    std::string uidl_format = "auto";
    // RETRieved messages are marked read (Maildir "S") at QUIT, as Dovecot does.
    bool mark_retrieved_seen = true;
    // Behind a load balancer: every connection starts with a PROXY protocol
    // header (v1 or v2) that says who the client is; only the proxies in
    // proxy_trusted_networks may send one, and only they may connect.
    bool proxy_protocol = false;
    std::vector<std::string> proxy_trusted_networks;
    Millis proxy_timeout{3000};
  };
  struct Auth {
    std::string backend = "passwd-file";
    std::string passwd_file;  // default: $(sysconfdir)/pop3d/passwd
    std::string mail_location = "%h/Maildir";
    Millis failure_delay{2000};
    int first_valid_uid = 1000;  // system users below this cannot log in
    std::string pam_service = "pop3";
  };
  struct Mailstore {
    // "auto" (from each maildrop's statfs), "yes" or "no":
    // mailstore/shared_storage.hpp.
    std::string shared_storage = "auto";
  };
  struct Log {
    std::string target = "syslog";  // "syslog", "stderr" or a file path
    LogLevel level = LogLevel::kInfo;
  };
  struct Stats {
    std::string listen;  // "" (off) or "host:port" for GET /metrics
  };

  General general;
  Pop3 pop3;
  Auth auth;
  Mailstore mailstore;
  Log log;
  Stats stats;
  std::map<std::string, CertificateSettings> certificates;

  std::string config_file;  // where these came from, for messages
};

}  // namespace pop3d
