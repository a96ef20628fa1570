// The settings table: one entry per setting, the single source from which the
// config-file parser, the command line, --help, the sample config, the man
// page and --print-config are all generated (nginx-style "settings are data").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/settings.hpp"
#include "util/result.hpp"

namespace pop3d {

enum class SettingType { kBool, kInt, kDuration, kString, kEnum, kList };

// A value after parsing and checking, before it is stored in Settings.
// Durations are carried in milliseconds.
using SettingValue =
    std::variant<bool, std::int64_t, Millis, std::string, std::vector<std::string>>;

struct SettingDef {
  // Dotted name as in the file and on the command line. A "*" component
  // stands for a name the user chooses (certificates.*.cert_file).
  std::string name;
  SettingType type;
  // Default as config text (unquoted). Empty for instance settings, which
  // have no default of their own.
  std::string default_text;
  std::string help;
  std::int64_t min = 0;  // kInt: value range; kDuration: range in milliseconds
  std::int64_t max = 0;
  std::vector<std::string> choices;  // kEnum: the allowed words
  bool nonempty = false;             // kString: "" is not allowed
  bool whole_seconds = false;        // kDuration stored in Seconds
  // The default depends on how pop3d was built (./configure --sysconfdir);
  // the sample config shows it as a comment so the file is the same for all.
  bool build_dependent_default = false;
  // `instance` is the "*" part of the name ("" for ordinary settings).
  std::function<void(Settings&, const std::string& instance, const SettingValue&)> set;
  std::function<SettingValue(const Settings&, const std::string& instance)> get;

  bool is_instance() const { return name.find('*') != std::string::npos; }
};

// Every setting, in the order the documentation shows them.
const std::vector<SettingDef>& settings_table();

// The entry for a dotted name and, for instance settings, the chosen name;
// nullptr when there is no such setting.
const SettingDef* find_setting(const std::string& name, std::string* instance);

// The nearest known setting name ("" if nothing is close), for "did you mean".
// Names longer than kMaxSuggestedNameLength get no suggestion.
inline constexpr size_t kMaxSuggestedNameLength = 256;
std::string nearest_setting_name(const std::string& name);

// Parses command-line or config text into a checked value. The error message
// says what is allowed; the caller adds where the value came from.
Result<SettingValue> parse_setting_text(const SettingDef& def, const std::string& text);
// Checks a value of the right C++ type against the entry's limits.
Result<SettingValue> check_setting_value(const SettingDef& def, SettingValue value);

// "true", "110", "10m", "0.0.0.0;::": the text form that parses back.
std::string format_setting_value(const SettingDef& def, const SettingValue& v);
// Human description of what the setting accepts: "integer 1-65535".
std::string describe_setting_type(const SettingDef& def);

std::string format_duration(Millis d);
// How durations are written, for help texts and error messages.
inline constexpr const char* kDurationSyntax =
    "a duration is a number of seconds, or a number with unit ms, s, m, h or d (\"10m\")";
// Whether `name` can name a certificate: the characters libconfig allows in
// a setting name, so every certificate can be printed back as config.
bool valid_instance_name(const std::string& name);
// Levenshtein distance, used for suggestions.
size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace pop3d
