// The command line: a few actions (-f, -t, --print-config, ...) plus one
// --group.name=VALUE option per setting, generated from the settings table.
#include <boost/program_options.hpp>

#include "config/command_line_options.hpp"
#include "config/config.hpp"
#include "config/settings_table.hpp"

namespace pop3d {

namespace po = boost::program_options;

po::options_description action_options() {
  po::options_description d("Options");
  // clang-format off
  d.add_options()
    ("config,c", po::value<std::string>()->value_name("FILE"),
     "config file (default " POP3D_SYSCONFDIR "/pop3d/pop3d.conf)")
    ("foreground,f", "stay in the foreground instead of becoming a daemon")
    ("check-config,t", "check the config file, report problems and exit")
    ("print-config", "print the effective settings in config syntax and exit")
    ("show-blocked", "list the addresses anti-hammering is blocking and exit")
    ("unblock", po::value<std::string>()->value_name("ADDR"),
     "lift the anti-hammering block on ADDR and exit")
    ("print-uidls", po::value<std::string>()->value_name("USER"),
     "print what USER's client will be shown (number, UIDL, size) and exit")
    ("who", "list the sessions in progress (user, client, state, since, octets sent, "
     "worker pid) and exit")
    ("json", "with --who: print the sessions as one JSON array")
    ("kick", po::value<std::string>()->value_name("USER"),
     "end USER's sessions without committing (as a dropped connection) and exit")
    ("help,h", "show this help and exit")
    ("version,V", "show the version and exit");
  // clang-format on
  return d;
}

po::options_description setting_options() {
  po::options_description d("Settings (each overrides the config file)");
  for (const auto& def : settings_table()) {
    // Certificates have a name chosen by the admin, so they cannot be
    // registered up front; parse_command_line picks them out by pattern.
    if (def.is_instance()) continue;
    auto* value = po::value<std::string>()->value_name("VALUE");
    // A bare --pop3.implicit_ssl reads as "turn it on".
    if (def.type == SettingType::kBool) value->implicit_value("true");
    d.add_options()(def.name.c_str(), value, def.help.c_str());
  }
  return d;
}

namespace {

std::string nearest_option(const std::string& name) {
  static const char* const kActions[] = {
      "config",      "foreground", "check-config", "print-config", "show-blocked", "unblock",
      "print-uidls", "who",        "json",         "kick",         "help",         "version"};
  std::string best;
  size_t best_score = name.size() / 3 + 2;
  for (const char* a : kActions) {
    const size_t score = edit_distance(name, a);
    if (score < best_score) {
      best_score = score;
      best = a;
    }
  }
  if (!best.empty()) return best;
  return nearest_setting_name(name);
}

}  // namespace

Result<CommandLine> parse_command_line(int argc, const char* const* argv) {
  po::options_description all;
  all.add(action_options()).add(setting_options());
  // No prefix guessing: "--pop3.po" must not silently mean "--pop3.port".
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
  po::parsed_options parsed(&all);
  try {
    parsed =
        po::command_line_parser(argc, argv).options(all).style(style).allow_unregistered().run();
  } catch (const po::error& e) {
    return Error{std::string("command line: ") + e.what()};
  }

  CommandLine cl;
  for (const auto& opt : parsed.options) {
    const std::string& key = opt.string_key;
    const std::string value = opt.value.empty() ? std::string() : opt.value.front();
    if (opt.position_key >= 0 || key.empty()) {
      return Error{"command line: unexpected argument '" + value +
                   "'; settings are given as --group.name=VALUE"};
    }
    if (opt.unregistered) {
      const std::string token = opt.original_tokens.empty() ? key : opt.original_tokens.front();
      std::string instance;
      const SettingDef* def = find_setting(key, &instance);
      if (def && def->is_instance()) {
        if (opt.value.empty()) {
          return Error{"command line: " + token + " needs a value: --" + key + "=FILE"};
        }
        cl.overrides.push_back({key, value});
        continue;
      }
      std::string name = key;
      while (!name.empty() && name.front() == '-') name.erase(0, 1);
      std::string msg = "command line: unknown option '" + token + "'";
      const std::string near = nearest_option(name);
      if (!near.empty()) msg += "; did you mean '--" + near + "'?";
      return Error{msg + " (see --help)"};
    }
    if (key == "config")
      cl.config_file = absolute_from_start(value);  // a SIGHUP re-reads it after chdir("/")
    else if (key == "foreground")
      cl.foreground = true;
    else if (key == "check-config")
      cl.check_config = true;
    else if (key == "print-config")
      cl.print_config = true;
    else if (key == "show-blocked")
      cl.show_blocked = true;
    else if (key == "unblock") {
      if (value.empty()) return Error{"command line: --unblock needs an address"};
      cl.unblock = value;
    } else if (key == "print-uidls") {
      if (value.empty()) return Error{"command line: --print-uidls needs a user name"};
      cl.print_uidls = value;
    } else if (key == "who") {
      cl.who = true;
    } else if (key == "json") {
      cl.json = true;
    } else if (key == "kick") {
      if (value.empty()) return Error{"command line: --kick needs a user name"};
      cl.kick = value;
    } else if (key == "help")
      cl.help = true;
    else if (key == "version")
      cl.version = true;
    else {
      // The parser leaves implicit values to store(), which is not used
      // here (it would lose the order of repeated options), so a bare bool
      // option arrives without its "true".
      const SettingDef* def = find_setting(key, nullptr);
      const bool bare_bool = opt.value.empty() && def && def->type == SettingType::kBool;
      cl.overrides.push_back({key, bare_bool ? std::string("true") : value});
    }
  }
  if (cl.json && !cl.who) return Error{"command line: --json goes with --who"};
  return cl;
}

}  // namespace pop3d
