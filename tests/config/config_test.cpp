// The config loader: defaults, every type of setting, the messages a user
// sees for mistakes, overrides, certificates and round trips.
#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "config/config.hpp"
#include "config/settings_table.hpp"

namespace pop3d {

namespace {

Result<LoadedSettings> load(const std::string& text, const std::vector<Override>& o = {}) {
  return load_settings_from_string(text, "test.conf", o);
}

// The error message of a load that must fail.
std::string load_error(const std::string& text, const std::vector<Override>& o = {}) {
  auto r = load(text, o);
  CPPUNIT_ASSERT_MESSAGE("expected an error for: " + text, !r.ok());
  return r.error().message;
}

void assert_contains(const std::string& haystack, const std::string& needle) {
  CPPUNIT_ASSERT_MESSAGE("'" + needle + "' not in: " + haystack,
                         haystack.find(needle) != std::string::npos);
}

std::string temp_file(const std::string& text) {
  char path[] = "/tmp/pop3d-config-test-XXXXXX";
  const int fd = ::mkstemp(path);
  CPPUNIT_ASSERT(fd >= 0);
  ::close(fd);
  std::ofstream(path) << text;
  return path;
}

// A value of the entry's type that differs from `current` and is still
// inside the entry's limits.
SettingValue other_value(const SettingDef& def, const SettingValue& current) {
  switch (def.type) {
    case SettingType::kBool:
      return !std::get<bool>(current);
    case SettingType::kInt: {
      const int64_t n = std::get<int64_t>(current);
      return n < def.max ? n + 1 : n - 1;
    }
    case SettingType::kDuration: {
      // An odd number of milliseconds where the setting keeps them, so a
      // value printed in whole seconds would not come back the same.
      const Millis step(def.whole_seconds ? 1000 : 250);
      const Millis d = std::get<Millis>(current);
      return d.count() + step.count() <= def.max ? d + step : d - step;
    }
    case SettingType::kString: {
      // A format, checked at load: any other text is refused.
      if (def.name == "pop3.uidl_format") return std::string("%08Xu%08Xv");
      const std::string& text = std::get<std::string>(current);
      return text.empty() ? std::string("round-trip") : text + "-2";
    }
    case SettingType::kEnum: {
      const auto& words = def.choices;
      auto it = std::find(words.begin(), words.end(), std::get<std::string>(current));
      CPPUNIT_ASSERT_MESSAGE(def.name + ": default is not one of its words", it != words.end());
      return *(++it == words.end() ? words.begin() : it);
    }
    case SettingType::kList: {
      // Two items more, so the separator and the order are tested too.
      auto items = std::get<std::vector<std::string>>(current);
      items.push_back("192.0.2.1");
      items.push_back("2001:db8::1");
      return items;
    }
  }
  CPPUNIT_FAIL(def.name + ": unknown setting type");
  return false;
}

// Whether `got` is the value `set`, or `set` as a relative file name that
// the loader made absolute (it does so for the files pop3d opens after
// chdir("/")); every other change of a value is a failed round trip.
bool same_or_made_absolute(const SettingValue& set, const SettingValue& got) {
  if (set == got) return true;
  const auto* set_text = std::get_if<std::string>(&set);
  const auto* got_text = std::get_if<std::string>(&got);
  return set_text != nullptr && got_text != nullptr && !set_text->empty() &&
         set_text->front() != '/' && got_text->front() == '/' &&
         got_text->ends_with("/" + *set_text);
}

// Every entry's value as text, one line each, certificates by name;
// without the entry named `leave_out`, if one is.
std::string all_values(const Settings& s, const std::string& leave_out = "") {
  std::string out;
  for (const auto& def : settings_table()) {
    if (def.name == leave_out) continue;
    if (!def.is_instance()) {
      out += def.name + "=" + format_setting_value(def, def.get(s, "")) + "\n";
      continue;
    }
    for (const auto& entry : s.certificates) {
      out += def.name + "[" + entry.first +
             "]=" + format_setting_value(def, def.get(s, entry.first)) + "\n";
    }
  }
  return out;
}

}  // namespace

class ConfigLoaderTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ConfigLoaderTest);
  CPPUNIT_TEST(empty_file_gives_the_defaults);
  CPPUNIT_TEST(table_defaults_agree_with_the_struct);
  CPPUNIT_TEST(every_setting_round_trips_through_print_config);
  CPPUNIT_TEST(nested_groups_set_values);
  CPPUNIT_TEST(colon_group_syntax_is_accepted);
  CPPUNIT_TEST(bools_parse_and_reject_other_types);
  CPPUNIT_TEST(ints_are_range_checked);
  CPPUNIT_TEST(durations_take_units);
  CPPUNIT_TEST(bad_durations_are_refused);
  CPPUNIT_TEST(enums_accept_only_their_words);
  CPPUNIT_TEST(lists_take_both_syntaxes);
  CPPUNIT_TEST(bad_lists_are_refused);
  CPPUNIT_TEST(empty_required_string_is_refused);
  CPPUNIT_TEST(unknown_setting_suggests_nearest_name);
  CPPUNIT_TEST(unknown_group_and_misplaced_group_are_named);
  CPPUNIT_TEST(syntax_error_names_file_and_line);
  CPPUNIT_TEST(missing_file_is_a_clear_error);
  CPPUNIT_TEST(file_errors_name_the_real_path_and_line);
  CPPUNIT_TEST(nul_byte_is_refused_with_file_and_line);
  CPPUNIT_TEST(overrides_win_over_the_file);
  CPPUNIT_TEST(bad_override_names_the_command_line);
  CPPUNIT_TEST(certificates_replace_the_default_set);
  CPPUNIT_TEST(certificate_must_exist);
  CPPUNIT_TEST(certificate_needs_both_files);
  CPPUNIT_TEST(short_idle_timeout_warns);
  CPPUNIT_TEST(bind_list_needs_addresses);
  CPPUNIT_TEST_SUITE_END();

 public:
  void empty_file_gives_the_defaults() {
    auto r = load("");
    CPPUNIT_ASSERT(r.ok());
    const Settings& s = r->settings;
    CPPUNIT_ASSERT_EQUAL(110, s.pop3.port);
    CPPUNIT_ASSERT_EQUAL(995, s.pop3.ssl_port);
    CPPUNIT_ASSERT(s.pop3.idle_timeout == Seconds(600));
    CPPUNIT_ASSERT(s.general.shutdown_timeout == Seconds(30));
    CPPUNIT_ASSERT(s.auth.failure_delay == Millis(2000));
    CPPUNIT_ASSERT_EQUAL(std::string(POP3D_SYSCONFDIR "/pop3d/passwd"), s.auth.passwd_file);
    CPPUNIT_ASSERT_EQUAL(std::string("/etc/ssl/certs/ssl-cert-snakeoil.pem"),
                         s.certificates.at("default").cert_file);
    CPPUNIT_ASSERT_EQUAL(std::string("/etc/ssl/private/ssl-cert-snakeoil.key"),
                         s.certificates.at("default").key_file);
    CPPUNIT_ASSERT_EQUAL(size_t(2), s.general.bind_addresses.size());
    CPPUNIT_ASSERT_EQUAL(std::string("::"), s.general.bind_addresses[1]);
  }

  // The table's default text and the struct's member initializers are two
  // statements of the same defaults; they must not drift apart.
  void table_defaults_agree_with_the_struct() {
    const Settings from_struct;
    const Settings from_table = default_settings();
    for (const auto& def : settings_table()) {
      if (def.is_instance() || def.build_dependent_default) continue;
      CPPUNIT_ASSERT_EQUAL_MESSAGE(def.name, format_setting_value(def, def.get(from_struct, "")),
                                   format_setting_value(def, def.get(from_table, "")));
      auto parsed = parse_setting_text(def, def.default_text);
      CPPUNIT_ASSERT_MESSAGE(def.name + " default does not parse", parsed.ok());
    }
  }

  // Every entry of the table, one at a time, set to a value other than its
  // default, printed with print_config and loaded back: the loaded value
  // must be the one set (a relative file name may come back absolute), and
  // every other entry must keep its value; printing and loading that again
  // must change nothing. Catches
  // a setting print_config leaves out, one it prints in a form that does not
  // parse back, and two entries that read or write one field. The list
  // comes from the table, so a new setting is covered without editing this.
  void every_setting_round_trips_through_print_config() {
    const Settings base = default_settings();
    size_t covered = 0;
    for (const auto& def : settings_table()) {
      // Instance settings are checked on the certificate every build has.
      const std::string instance = def.is_instance() ? "default" : "";
      const std::string what = def.name + (instance.empty() ? "" : " (" + instance + ")");
      const SettingValue before = def.get(base, instance);
      const SettingValue changed = other_value(def, before);
      CPPUNIT_ASSERT_MESSAGE(what + ": no other value found", changed != before);
      auto checked = check_setting_value(def, changed);
      CPPUNIT_ASSERT_MESSAGE(what + ": " + (checked.ok() ? "" : checked.error().message),
                             checked.ok());

      Settings expected = base;
      def.set(expected, instance, changed);
      CPPUNIT_ASSERT_EQUAL_MESSAGE(what + " also changed another setting",
                                   all_values(base, def.name), all_values(expected, def.name));
      // The loader insists that pop3.certificate names a certificate.
      if (expected.certificates.count(expected.pop3.certificate) == 0)
        expected.certificates[expected.pop3.certificate] = expected.certificates.at("default");

      const std::string printed = print_config(expected);
      auto loaded = load_settings_from_string(printed, "printed", {});
      CPPUNIT_ASSERT_MESSAGE(
          what + ": " + (loaded.ok() ? "" : loaded.error().message) + "\n" + printed, loaded.ok());
      const SettingValue got = def.get(loaded->settings, instance);
      CPPUNIT_ASSERT_MESSAGE(what + ": printed " + format_setting_value(def, changed) +
                                 ", loaded back " + format_setting_value(def, got),
                             same_or_made_absolute(changed, got));
      CPPUNIT_ASSERT_EQUAL_MESSAGE(what, all_values(expected, def.name),
                                   all_values(loaded->settings, def.name));
      // What was loaded is what --print-config shows; it must load back
      // unchanged, this entry included.
      auto again = load_settings_from_string(print_config(loaded->settings), "reprinted", {});
      CPPUNIT_ASSERT_MESSAGE(what + ": " + (again.ok() ? "" : again.error().message), again.ok());
      CPPUNIT_ASSERT_EQUAL_MESSAGE(what, all_values(loaded->settings), all_values(again->settings));
      ++covered;
    }
    CPPUNIT_ASSERT_EQUAL(settings_table().size(), covered);
  }

  void nested_groups_set_values() {
    auto r = load(
        "general = { user = \"mail\"; hostname = \"pop.example.org\";\n"
        "  anti_hammering = { max_failures = 3; ipv6_prefix = 56; }; };\n"
        "pop3 = { port = 1110; blocked_ips = { enabled = true; list = \"10.0.0.0/8\"; }; };\n"
        "auth = { mail_location = \"/var/mail/%u\"; };\n"
        "log = { level = \"debug\"; target = \"stderr\"; };\n");
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    const Settings& s = r->settings;
    CPPUNIT_ASSERT_EQUAL(std::string("mail"), s.general.user);
    CPPUNIT_ASSERT_EQUAL(std::string("pop.example.org"), s.general.hostname);
    CPPUNIT_ASSERT_EQUAL(3, s.general.anti_hammering.max_failures);
    CPPUNIT_ASSERT_EQUAL(56, s.general.anti_hammering.ipv6_prefix);
    CPPUNIT_ASSERT_EQUAL(1110, s.pop3.port);
    CPPUNIT_ASSERT(s.pop3.blocked_ips.enabled);
    CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.0/8"), s.pop3.blocked_ips.list.at(0));
    CPPUNIT_ASSERT_EQUAL(std::string("/var/mail/%u"), s.auth.mail_location);
    CPPUNIT_ASSERT(s.log.level == LogLevel::kDebug);
    CPPUNIT_ASSERT_EQUAL(std::string("stderr"), s.log.target);
    // Untouched settings keep their defaults.
    CPPUNIT_ASSERT_EQUAL(std::string("pop3d"), s.general.group);
    CPPUNIT_ASSERT_EQUAL(995, s.pop3.ssl_port);
  }

  void colon_group_syntax_is_accepted() {
    auto r = load("pop3: { port: 2110; };");
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT_EQUAL(2110, r->settings.pop3.port);
  }

  void bools_parse_and_reject_other_types() {
    auto r = load("pop3 = { implicit_ssl = true; explicit_ssl = false; };");
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT(r->settings.pop3.implicit_ssl);
    CPPUNIT_ASSERT(!r->settings.pop3.explicit_ssl);
    const std::string e = load_error("pop3 = {\n implicit_ssl = \"yes\"; };");
    assert_contains(e, "test.conf:2: pop3.implicit_ssl: expected true or false");
    assert_contains(e, "the string \"yes\"");
    // On the command line, words are the only way to say it.
    auto o = load("", {{"pop3.implicit_ssl", "yes"}, {"pop3.enabled", "off"}});
    CPPUNIT_ASSERT(o.ok());
    CPPUNIT_ASSERT(o->settings.pop3.implicit_ssl);
    CPPUNIT_ASSERT(!o->settings.pop3.enabled);
  }

  void ints_are_range_checked() {
    CPPUNIT_ASSERT_EQUAL(65535, load("pop3 = { port = 65535; };")->settings.pop3.port);
    CPPUNIT_ASSERT_EQUAL(1, load("pop3 = { port = 1; };")->settings.pop3.port);
    assert_contains(load_error("pop3 = {\n\n port = 70000; };"),
                    "test.conf:3: pop3.port: expected an integer 1-65535, got '70000'");
    assert_contains(load_error("pop3 = { port = 0; };"), "1-65535");
    assert_contains(load_error("pop3 = { port = \"110\"; };"), "got the string \"110\"");
    assert_contains(load_error("pop3 = { port = 1.5; };"), "got the number");
    assert_contains(load_error("pop3 = { max_connections = 10001; };"), "1-10000");
    assert_contains(load_error("general = { anti_hammering = { ipv6_prefix = 129; }; };"), "1-128");
    assert_contains(load_error("general = { anti_hammering = { table_size = 15; }; };"),
                    "16-1000000");
    assert_contains(load_error("general = { anti_hammering = { max_failures = 0; }; };"),
                    "general.anti_hammering.max_failures");
    // 64-bit literals must not wrap into range.
    assert_contains(load_error("pop3 = { port = 4294967407L; };"), "1-65535");
    assert_contains(load_error("", {{"pop3.port", "11o"}}), "got '11o'");
  }

  void durations_take_units() {
    auto r = load(
        "pop3 = { idle_timeout = 900; login_timeout = \"90s\"; };\n"
        "general = { shutdown_timeout = \"1h\"; anti_hammering = { block_time = \"10m\";\n"
        "  failure_timeout = \"2d\"; }; };\n"
        "auth = { failure_delay = \"500ms\"; };");
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT(r->settings.pop3.idle_timeout == Seconds(900));
    CPPUNIT_ASSERT(r->settings.pop3.login_timeout == Seconds(90));
    CPPUNIT_ASSERT(r->settings.general.shutdown_timeout == Seconds(3600));
    CPPUNIT_ASSERT(r->settings.general.anti_hammering.block_time == Seconds(600));
    CPPUNIT_ASSERT(r->settings.general.anti_hammering.failure_timeout == Seconds(2 * 86400));
    CPPUNIT_ASSERT(r->settings.auth.failure_delay == Millis(500));
    auto z = load("auth = { failure_delay = 0; };");
    CPPUNIT_ASSERT(z.ok());
    CPPUNIT_ASSERT(z->settings.auth.failure_delay == Millis(0));
  }

  void bad_durations_are_refused() {
    assert_contains(load_error("pop3 = {\n idle_timeout = \"10 minutes\"; };"),
                    "test.conf:2: pop3.idle_timeout: expected a duration");
    assert_contains(load_error("pop3 = { idle_timeout = 0; };"), "pop3.idle_timeout");
    // Timeouts are kept in seconds; a fraction would be silently lost.
    assert_contains(load_error("pop3 = { idle_timeout = \"1500ms\"; };"), "whole seconds");
    assert_contains(load_error("pop3 = { idle_timeout = true; };"), "the boolean true");
    assert_contains(load_error("pop3 = { idle_timeout = \"-5s\"; };"), "'-5s'");
    assert_contains(load_error("auth = { failure_delay = \"2m\"; };"), "from 0s to 1m");
    assert_contains(load_error("pop3 = { idle_timeout = \"1w\"; };"), "unit ms, s, m, h or d");
    assert_contains(load_error("", {{"pop3.login_timeout", "99999999999999999h"}}),
                    "pop3.login_timeout");
  }

  void enums_accept_only_their_words() {
    auto r = load(
        "pop3 = { bind = \"all\"; plaintext_auth = \"allow\"; };"
        "auth = { backend = \"pam\"; }; log = { level = \"warning\"; };");
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT(r->settings.pop3.bind == BindMode::kAll);
    CPPUNIT_ASSERT(r->settings.pop3.plaintext_auth == PlaintextAuth::kAllow);
    CPPUNIT_ASSERT_EQUAL(std::string("pam"), r->settings.auth.backend);
    CPPUNIT_ASSERT(r->settings.log.level == LogLevel::kWarning);
    const std::string e = load_error("log = { level = \"verbose\"; };");
    assert_contains(e,
                    "test.conf:1: log.level: expected one of \"error\", \"warning\", "
                    "\"notice\", \"info\" or \"debug\", got 'verbose'");
    assert_contains(load_error("pop3 = { plaintext_auth = \"yes\"; };"),
                    "\"tls-only\" or \"allow\"");
    assert_contains(load_error("auth = { backend = \"ldap\"; };"), "\"passwd-file\"");
  }

  void lists_take_both_syntaxes() {
    auto r = load(
        "general = { bind_addresses = \"127.0.0.1; ::1\"; };\n"
        "pop3 = { secure_networks = [\"10.0.0.0/8\", \"192.168.0.0/16\"];\n"
        "  safe_ips = { list = (\"1.2.3.4\"); }; listen = \"\"; };");
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    const Settings& s = r->settings;
    CPPUNIT_ASSERT_EQUAL(size_t(2), s.general.bind_addresses.size());
    CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), s.general.bind_addresses[0]);
    CPPUNIT_ASSERT_EQUAL(std::string("::1"), s.general.bind_addresses[1]);
    CPPUNIT_ASSERT_EQUAL(size_t(2), s.pop3.secure_networks.size());
    CPPUNIT_ASSERT_EQUAL(std::string("192.168.0.0/16"), s.pop3.secure_networks[1]);
    CPPUNIT_ASSERT_EQUAL(size_t(1), s.pop3.safe_ips.list.size());
    CPPUNIT_ASSERT(s.pop3.listen.empty());
    auto empty = load("pop3 = { secure_networks = \"\"; };");
    CPPUNIT_ASSERT(empty.ok());
    CPPUNIT_ASSERT(empty->settings.pop3.secure_networks.empty());
    auto empty_array = load("pop3 = { secure_networks = []; };");
    CPPUNIT_ASSERT(empty_array.ok());
    CPPUNIT_ASSERT(empty_array->settings.pop3.secure_networks.empty());
    auto o = load("", {{"general.bind_addresses", "::"}});
    CPPUNIT_ASSERT_EQUAL(size_t(1), o->settings.general.bind_addresses.size());
  }

  void bad_lists_are_refused() {
    assert_contains(load_error("pop3 = {\n secure_networks = [1, 2]; };"),
                    "test.conf:2: pop3.secure_networks: expected a list of strings");
    assert_contains(load_error("pop3 = { secure_networks = (\"a;b\"); };"), "cannot contain ';'");
    assert_contains(load_error("pop3 = { secure_networks = 5; };"), "the integer 5");
  }

  void empty_required_string_is_refused() {
    assert_contains(load_error("general = { user = \"\"; };"),
                    "general.user: expected a non-empty string");
    CPPUNIT_ASSERT(load("general = { hostname = \"\"; };").ok());
  }

  void unknown_setting_suggests_nearest_name() {
    const std::string e = load_error("pop3 = {\n  prot = 110;\n};");
    assert_contains(e, "test.conf:2: unknown setting 'pop3.prot'; did you mean 'pop3.port'?");
    assert_contains(load_error("port = 110;"), "did you mean 'pop3.port'?");
    assert_contains(load_error("general = { anti_hammering = { max_failure = 1; }; };"),
                    "did you mean 'general.anti_hammering.max_failures'?");
    assert_contains(load_error("certificates = { mine = { cert = \"/a\"; }; };"),
                    "did you mean 'certificates.mine.cert_file'?");
    const std::string far = load_error("colour = \"blue\";");
    assert_contains(far, "unknown setting 'colour'");
    CPPUNIT_ASSERT(far.find("did you mean") == std::string::npos);
    // Found by fuzz_config: a certificate name of thousands of octets made
    // the suggestion cost seconds. Past kMaxSuggestedNameLength there is
    // none; the setting is still named.
    const std::string name(kMaxSuggestedNameLength, 'n');
    const std::string longer = load_error("certificates = { " + name + " = { cert = \"/a\"; }; };");
    assert_contains(longer, "unknown setting 'certificates." + name + ".cert'");
    CPPUNIT_ASSERT(longer.find("did you mean") == std::string::npos);
    CPPUNIT_ASSERT(nearest_setting_name(std::string(kMaxSuggestedNameLength + 1, 'p')).empty());
  }

  void unknown_group_and_misplaced_group_are_named() {
    assert_contains(load_error("pop4 = { port = 110; };"),
                    "unknown setting 'pop4'; did you mean 'pop3'");
    assert_contains(load_error("pop3 = 110;"), "pop3 is a group of settings");
    assert_contains(load_error("pop3 = { port = { x = 1; }; };"),
                    "pop3.port: expected an integer 1-65535, got a group");
  }

  void syntax_error_names_file_and_line() {
    const std::string e = load_error("pop3 = {\n port = = 110;\n};");
    assert_contains(e, "test.conf:2: syntax error");
  }

  void missing_file_is_a_clear_error() {
    auto r = load_settings("/nonexistent/pop3d.conf", {});
    CPPUNIT_ASSERT(!r.ok());
    assert_contains(r.error().message,
                    "cannot read config file /nonexistent/pop3d.conf: No such file");
    auto dir = load_settings("/tmp", {});
    CPPUNIT_ASSERT(!dir.ok());
    assert_contains(dir.error().message, "is a directory");
  }

  void file_errors_name_the_real_path_and_line() {
    const std::string path = temp_file("# comment\npop3 = {\n  port = -1;\n};\n");
    auto r = load_settings(path, {});
    ::unlink(path.c_str());
    CPPUNIT_ASSERT(!r.ok());
    assert_contains(r.error().message, path + ":3: pop3.port");
    const std::string good = temp_file("pop3 = { port = 1110; };\n");
    auto g = load_settings(good, {});
    ::unlink(good.c_str());
    CPPUNIT_ASSERT(g.ok());
    CPPUNIT_ASSERT_EQUAL(1110, g->settings.pop3.port);
    CPPUNIT_ASSERT_EQUAL(good, g->settings.config_file);
  }

  void nul_byte_is_refused_with_file_and_line() {
    // Parsed as a string, the text would end at the NUL, and the log level
    // after it would be silently dropped.
    std::string text = "pop3 = { max_connections = 5; };\n#";
    text += '\0';
    text += "\nlog = { level = \"debug\"; };\n";
    const std::string path = temp_file(text);
    auto r = load_settings(path, {});
    ::unlink(path.c_str());
    CPPUNIT_ASSERT(!r.ok());
    assert_contains(r.error().message, path + ":2: a NUL byte");
  }

  void overrides_win_over_the_file() {
    auto r = load("pop3 = { port = 1110; max_connections = 5; };",
                  {{"pop3.port", "2110"}, {"pop3.port", "3110"}, {"log.level", "debug"}});
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT_EQUAL(3110, r->settings.pop3.port);  // the last one wins
    CPPUNIT_ASSERT_EQUAL(5, r->settings.pop3.max_connections);
    CPPUNIT_ASSERT(r->settings.log.level == LogLevel::kDebug);
  }

  void bad_override_names_the_command_line() {
    assert_contains(load_error("", {{"pop3.port", "x"}}),
                    "command line: --pop3.port=x: expected an integer 1-65535");
    assert_contains(load_error("", {{"pop3.prot", "1"}}),
                    "command line: --pop3.prot=1: unknown setting 'pop3.prot'; did you mean "
                    "'--pop3.port'?");
  }

  void certificates_replace_the_default_set() {
    auto r = load(
        "pop3 = { certificate = \"main\"; };\n"
        "certificates = { main = { cert_file = \"/c.pem\"; key_file = \"/k.pem\"; }; };");
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(size_t(1), r->settings.certificates.size());
    CPPUNIT_ASSERT_EQUAL(std::string("/c.pem"), r->settings.certificates.at("main").cert_file);
    CPPUNIT_ASSERT_EQUAL(std::string("/k.pem"), r->settings.certificates.at("main").key_file);
    // On the command line, a certificate is added or changed in place.
    auto o = load("", {{"certificates.default.cert_file", "/x.pem"},
                       {"certificates.alt.cert_file", "/a.pem"},
                       {"certificates.alt.key_file", "/a.key"},
                       {"pop3.certificate", "alt"}});
    CPPUNIT_ASSERT_MESSAGE(o.ok() ? "" : o.error().message, o.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("/x.pem"), o->settings.certificates.at("default").cert_file);
    CPPUNIT_ASSERT_EQUAL(std::string("/etc/ssl/private/ssl-cert-snakeoil.key"),
                         o->settings.certificates.at("default").key_file);
    CPPUNIT_ASSERT_EQUAL(std::string("alt"), o->settings.pop3.certificate);
  }

  void certificate_must_exist() {
    const std::string e = load_error("pop3 = {\n certificate = \"missing\"; };");
    assert_contains(e, "test.conf:2: pop3.certificate: no certificate named 'missing'");
    assert_contains(e, "defined: default");
    assert_contains(load_error("certificates = { };"), "no certificate named 'default'");
    assert_contains(load_error("", {{"pop3.certificate", "nope"}}),
                    "command line: --pop3.certificate=nope");
  }

  void certificate_needs_both_files() {
    const std::string e =
        load_error("certificates = {\n default = { cert_file = \"/c.pem\"; }; };");
    assert_contains(e, "certificates.default.key_file is missing");
    assert_contains(e, "test.conf:2");
  }

  void short_idle_timeout_warns() {
    auto fine = load("");
    CPPUNIT_ASSERT(fine.ok());
    CPPUNIT_ASSERT(fine->warnings.empty());
    auto r = load("pop3 = {\n idle_timeout = \"5m\"; };");
    CPPUNIT_ASSERT(r.ok());  // a warning, not a refusal
    CPPUNIT_ASSERT(r->settings.pop3.idle_timeout == Seconds(300));
    CPPUNIT_ASSERT_EQUAL(size_t(1), r->warnings.size());
    assert_contains(r->warnings[0], "test.conf:2: pop3.idle_timeout is 5m; RFC 1939");
  }

  void bind_list_needs_addresses() {
    assert_contains(load_error("pop3 = { bind = \"list\"; };"), "pop3.listen is empty");
    auto r = load("pop3 = { bind = \"list\"; listen = \"127.0.0.1;mail.example.org\"; };");
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("mail.example.org"), r->settings.pop3.listen.at(1));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ConfigLoaderTest);

}  // namespace pop3d
