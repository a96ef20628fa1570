// The faces of the settings table meant for people: --help, the sample
// config (etc/pop3d.conf), --print-config and the man page section.
#include <cstdio>
#include <sstream>

#include "config/command_line_options.hpp"
#include "config/config.hpp"
#include "config/settings_table.hpp"

namespace pop3d {

namespace {

constexpr const char* kIndent = "  ";

// A value as libconfig text: bools and integers bare, everything else quoted.
std::string config_literal(const SettingDef& def, const SettingValue& v) {
  if (def.type == SettingType::kBool || def.type == SettingType::kInt) {
    return format_setting_value(def, v);
  }
  std::string out = "\"";
  for (unsigned char c : format_setting_value(def, v)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string group_of(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? std::string() : name.substr(0, dot);
}

std::vector<std::string> split_dots(const std::string& name) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const auto dot = name.find('.', start);
    parts.push_back(name.substr(start, dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

// One line of config to emit under a group path, with its comment lines.
struct ConfigLine {
  std::string name;  // dotted
  std::vector<std::string> comments;
  std::string assignment;  // "port = 110;" (last name component only)
  bool commented_out = false;
};

// A group tree in first-seen order, so emitting never opens a group twice
// (libconfig refuses duplicate names).
struct GroupNode {
  std::string name;
  std::vector<ConfigLine> lines;
  std::vector<GroupNode> groups;
  std::vector<bool> order;  // true: next group, false: next line

  void add(const std::vector<std::string>& path, size_t depth, ConfigLine line) {
    if (depth + 1 == path.size()) {
      lines.push_back(std::move(line));
      order.push_back(false);
      return;
    }
    for (auto& g : groups) {
      if (g.name == path[depth]) return g.add(path, depth + 1, std::move(line));
    }
    groups.push_back(GroupNode{path[depth], {}, {}, {}});
    order.push_back(true);
    groups.back().add(path, depth + 1, std::move(line));
  }

  void emit(std::ostringstream& out, const std::string& indent) const {
    size_t li = 0, gi = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      if (i > 0) out << "\n";
      if (!order[i]) {
        const ConfigLine& l = lines[li++];
        for (const auto& c : l.comments) out << indent << "# " << c << "\n";
        out << indent << (l.commented_out ? "# " : "") << l.assignment << "\n";
      } else {
        const GroupNode& g = groups[gi++];
        out << indent << g.name << " = {\n";
        g.emit(out, indent + kIndent);
        out << indent << "};\n";
      }
    }
  }
};

std::string render(const std::vector<ConfigLine>& lines) {
  GroupNode root;
  for (const auto& l : lines) root.add(split_dots(l.name), 0, l);
  std::ostringstream out;
  root.emit(out, "");
  return out.str();
}

std::string last_part(const std::string& name) {
  return name.substr(name.rfind('.') + 1);
}

// The certificates section: a group even when empty, because loading an
// empty certificates group is what removes the built-in "default" entry.
std::string render_certificates(const Settings& s, const std::vector<std::string>& intro) {
  std::ostringstream out;
  for (const auto& c : intro) out << "# " << c << "\n";
  out << "certificates = {\n";
  bool first = true;
  for (const auto& [name, cert] : s.certificates) {
    if (!first) out << "\n";
    first = false;
    out << kIndent << name << " = {\n";
    for (const auto& def : settings_table()) {
      if (!def.is_instance()) continue;
      out << kIndent << kIndent << last_part(def.name) << " = "
          << config_literal(def, def.get(s, name)) << ";\n";
    }
    out << kIndent << "};\n";
  }
  out << "};\n";
  return out.str();
}

std::string roff_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

// The default as it would be written in the config file ("" when empty).
std::string default_shown(const SettingDef& def) {
  auto v = parse_setting_text(def, def.default_text);
  return v ? config_literal(def, *v) : def.default_text;
}

// The default as the man page shows it: one that depends on ./configure
// --sysconfdir is written with the variable, so the page is the same for
// every build.
std::string default_documented(const SettingDef& def) {
  const std::string sysconfdir = POP3D_SYSCONFDIR;
  if (def.build_dependent_default && def.default_text.rfind(sysconfdir, 0) == 0) {
    return "\"$(sysconfdir)" + def.default_text.substr(sysconfdir.size()) + "\"";
  }
  return default_shown(def);
}

}  // namespace

std::string help_text() {
  std::ostringstream out;
  out << "Usage: pop3d [OPTIONS] [--group.name=VALUE ...]\n"
      << "A POP3 server (RFC 1939) for the users of this host.\n\n"
      << action_options() << "\n"
      << "Settings: every setting of the config file can also be given here as\n"
      << "--group.name=VALUE, which wins over the file. Certificates are set with\n"
      << "--certificates.NAME.cert_file=FILE and --certificates.NAME.key_file=FILE.\n"
      << "Lists are written \"a;b\". Durations are seconds, or a number with a unit:\n"
      << "ms, s, m, h or d (\"500ms\", \"10m\").\n";
  std::string group = "-";
  for (const auto& def : settings_table()) {
    const std::string g = group_of(def.name);
    if (g != group) {
      out << "\n" << g << ":\n";
      group = g;
    }
    out << "  --" << def.name << "=VALUE\n"
        << "      " << def.help << "\n"
        << "      Takes " << describe_setting_type(def) << ".";
    if (!def.is_instance()) out << " Default: " << default_shown(def);
    out << "\n";
  }
  return out.str();
}

std::string sample_config() {
  const Settings defaults = default_settings();
  std::vector<ConfigLine> lines;
  for (const auto& def : settings_table()) {
    if (def.is_instance()) continue;
    ConfigLine l;
    l.name = def.name;
    l.comments.push_back(def.help);
    l.comments.push_back("Takes " + describe_setting_type(def) + ".");
    if (def.build_dependent_default) {
      // The built-in value depends on ./configure --sysconfdir; the line is
      // left commented out so this file is the same for every build.
      l.comments.push_back(
          "Default: pop3d/passwd in the configuration directory pop3d was built "
          "for (see pop3d --help).");
      l.assignment = last_part(def.name) + " = \"/etc/pop3d/passwd\";";
      l.commented_out = true;
    } else {
      l.assignment = last_part(def.name) + " = " + config_literal(def, def.get(defaults, "")) + ";";
    }
    lines.push_back(std::move(l));
  }
  std::vector<std::string> cert_intro = {
      "Certificates for TLS, each under a name of your choice that pop3.certificate",
      "refers to. Per certificate:"};
  for (const auto& def : settings_table()) {
    if (!def.is_instance()) continue;
    cert_intro.push_back("  " + last_part(def.name) + ": " + def.help);
  }
  cert_intro.push_back("The default pair is Debian's ssl-cert snakeoil certificate; replace it");
  cert_intro.push_back("with a real one before clients are told to trust this server.");

  std::ostringstream out;
  out << "# pop3d.conf: configuration of pop3d, the POP3 server.\n"
      << "#\n"
      << "# The syntax is libconfig's: groups in braces, `name = value;`, strings\n"
      << "# in double quotes, # comments. Every setting is shown with its default\n"
      << "# value, so this file changes nothing until you edit it. Durations take\n"
      << "# seconds or a number with a unit (500ms, 30s, 10m, 1h, 1d); lists take\n"
      << "# \"a;b\" or [\"a\", \"b\"]. Any setting can also be given on the command\n"
      << "# line as --group.name=VALUE, which wins over this file.\n\n"
      << render(lines) << "\n"
      << render_certificates(defaults, cert_intro);
  return out.str();
}

std::string print_config(const Settings& s) {
  std::vector<ConfigLine> lines;
  for (const auto& def : settings_table()) {
    if (def.is_instance()) continue;
    ConfigLine l;
    l.name = def.name;
    l.comments.push_back(def.help);
    l.assignment = last_part(def.name) + " = " + config_literal(def, def.get(s, "")) + ";";
    lines.push_back(std::move(l));
  }
  std::ostringstream out;
  out << "# Effective settings of pop3d";
  if (!s.config_file.empty()) out << ", from " << s.config_file << " and the command line";
  out << ".\n\n" << render(lines) << "\n" << render_certificates(s, {"Certificates for TLS."});
  return out.str();
}

std::string man_page_settings() {
  std::ostringstream out;
  out << ".SH SETTINGS\n"
      << "Every setting can also be given on the command line of\n"
      << ".BR pop3d (8)\n"
      << "as\n"
      << "\\fB\\-\\-\\fIgroup.name\\fB=\\fIVALUE\\fR,\n"
      << "which wins over the file.\n";
  std::string group = "-";
  for (const auto& def : settings_table()) {
    const std::string g = group_of(def.name);
    if (g != group) {
      out << ".SS " << roff_escape(g) << "\n";
      group = g;
    }
    out << ".TP\n"
        << ".B " << roff_escape(def.name) << "\n"
        << roff_escape(def.help) << "\n"
        << ".br\n"
        << "Takes " << roff_escape(describe_setting_type(def)) << ".\n";
    if (!def.is_instance()) {
      out << ".br\nDefault: " << roff_escape(default_documented(def)) << "\n";
    }
  }
  return out.str();
}

std::string man_page() {
  std::ostringstream out;
  out << ".\\\" Generated from the settings table (src/config/settings_table.cpp); do not edit.\n"
      << ".TH POP3D.CONF 5 \"2026-11-27\" \"pop3d\" \"File Formats\"\n"
      << ".SH NAME\n"
      << "pop3d.conf \\- settings of the pop3d POP3 server\n"
      << ".SH DESCRIPTION\n"
      << ".B pop3d\n"
      << "reads its settings from\n"
      << ".I /etc/pop3d/pop3d.conf\n"
      << "(or the file named by\n"
      << ".BR \\-c ).\n"
      << "The file uses libconfig syntax: groups in braces, one\n"
      << ".IB name \" = \" value ;\n"
      << "per setting, strings in double quotes, and\n"
      << ".B #\n"
      << "comments. A setting written here as\n"
      << ".B pop3.port\n"
      << "is written in the file as\n"
      << ".PP\n"
      << ".nf\n"
      << "pop3 = {\n"
      << "  port = 110;\n"
      << "};\n"
      << ".fi\n"
      << ".PP\n"
      << "Lists are strings of entries separated by\n"
      << ".B ;\n"
      << "or libconfig lists of strings. Durations are whole seconds, or a number\n"
      << "with a unit: ms, s, m, h, d.\n"
      << "A mistake (an unknown setting, a wrong type, a value out of range) is\n"
      << "reported with the file, the line and the setting, and pop3d does not start;\n"
      << ".B pop3d \\-t\n"
      << "checks a file without starting.\n"
      << man_page_settings() << ".SH SEE ALSO\n"
      << ".BR pop3d (8)\n";
  return out.str();
}

}  // namespace pop3d
