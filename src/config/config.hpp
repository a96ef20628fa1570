// config.hpp: the one header callers of src/config need. main() does
//   parse_command_line -> (help / version) -> load_settings -> use Settings.
// Everything here is generated from one settings table (settings_table.hpp),
// so the config file, the command line, --help, the sample config and
// --print-config can never disagree about a setting's name, type or default.
#pragma once

#include <string>
#include <vector>

#include "config/settings.hpp"
#include "util/result.hpp"

namespace pop3d {

#ifndef POP3D_SYSCONFDIR
#define POP3D_SYSCONFDIR "/etc"
#endif

// Where pop3d looks for its config file when -c is not given.
inline constexpr const char* kDefaultConfigFile = POP3D_SYSCONFDIR "/pop3d/pop3d.conf";

// One `--group.name=VALUE` from the command line; applied after the file.
struct Override {
  std::string name;   // e.g. "pop3.port", "certificates.default.cert_file"
  std::string value;  // text, parsed like a config-file value of that type
};

struct CommandLine {
  std::string config_file = kDefaultConfigFile;
  bool foreground = false;          // -f: stay attached, log to stderr by default
  bool check_config = false;        // -t: load the config, report, exit
  bool print_config = false;        // --print-config: print effective settings, exit
  bool help = false;                // -h
  bool version = false;             // -V
  bool show_blocked = false;        // --show-blocked: list anti-hammering blocks
  std::string print_uidls;          // --print-uidls USER: what USER's client will see
  std::string unblock;              // --unblock ADDR; empty when not asked
  bool who = false;                 // --who: list the sessions in progress
  bool json = false;                // --json: --who as JSON
  std::string kick;                 // --kick USER: end USER's sessions
  std::vector<Override> overrides;  // in command-line order; later ones win
};

// What load_settings returns: the settings and what is worth warning about
// but not worth refusing to start over (e.g. an idle time-out below RFC
// 1939's ten minutes). The caller logs the warnings.
struct LoadedSettings {
  Settings settings;
  std::vector<std::string> warnings;
};

// The directory pop3d was started in, fixed at the first call (main makes
// it before anything else). Relative paths (-c, @include, auth.passwd_file
// and the other file settings) mean what they meant at start, also when a
// SIGHUP re-reads them after the daemon's chdir("/"). Empty when the
// directory could not be named then.
const std::string& start_directory();
// `path` taken from start_directory() when relative; as it is otherwise.
std::string absolute_from_start(const std::string& path);

// Parses argv. Unknown options and stray arguments are errors whose message
// suggests the nearest known option. Does not read the config file.
Result<CommandLine> parse_command_line(int argc, const char* const* argv);

// Reads the config file at `path` (libconfig syntax), then applies
// `overrides`. Errors name the file, line and setting and say what is
// allowed; a missing or unreadable file is an error.
Result<LoadedSettings> load_settings(const std::string& path,
                                     const std::vector<Override>& overrides);

// The same from text already in memory; `source_name` stands in for the file
// name in messages. Used by tests and by anything that gets config text
// from elsewhere.
Result<LoadedSettings> load_settings_from_string(const std::string& text,
                                                 const std::string& source_name,
                                                 const std::vector<Override>& overrides);

// The settings pop3d runs with when the config file sets nothing.
Settings default_settings();

// --help: usage, the options, then every setting with type, default, help.
std::string help_text();
// The commented sample config (etc/pop3d.conf is exactly this text); it
// loads cleanly and yields default_settings().
std::string sample_config();
// The effective settings in config syntax; loading the text gives `s` back.
std::string print_config(const Settings& s);
// The SETTINGS section of pop3d.conf(5), in roff (man) format.
std::string man_page_settings();
// The whole of pop3d.conf(5); doc/pop3d.conf.5 is exactly this text.
std::string man_page();

}  // namespace pop3d
