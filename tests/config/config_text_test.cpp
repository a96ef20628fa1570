// The faces of the settings table: command line, --help, the sample config
// (and that etc/pop3d.conf is exactly it), --print-config, the man page.
#include <cppunit/extensions/HelperMacros.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/config.hpp"
#include "config/settings_table.hpp"

namespace pop3d {

namespace {

Result<CommandLine> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "pop3d");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  return parse_command_line(static_cast<int>(args.size()), argv.data());
}

void assert_contains(const std::string& haystack, const std::string& needle) {
  CPPUNIT_ASSERT_MESSAGE("'" + needle + "' not in: " + haystack.substr(0, 2000),
                         haystack.find(needle) != std::string::npos);
}

}  // namespace

class CommandLineTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(CommandLineTest);
  CPPUNIT_TEST(no_arguments_gives_defaults);
  CPPUNIT_TEST(action_flags);
  CPPUNIT_TEST(settings_become_overrides_in_order);
  CPPUNIT_TEST(certificate_options_are_accepted);
  CPPUNIT_TEST(unknown_option_suggests);
  CPPUNIT_TEST(stray_argument_is_refused);
  CPPUNIT_TEST(prefixes_are_not_guessed);
  CPPUNIT_TEST(command_line_override_reaches_settings);
  CPPUNIT_TEST_SUITE_END();

 public:
  void no_arguments_gives_defaults() {
    auto r = parse({});
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT_EQUAL(std::string(POP3D_SYSCONFDIR "/pop3d/pop3d.conf"), r->config_file);
    CPPUNIT_ASSERT(!r->foreground && !r->check_config && !r->print_config && !r->help &&
                   !r->version && !r->show_blocked);
    CPPUNIT_ASSERT(r->unblock.empty() && r->print_uidls.empty());
    CPPUNIT_ASSERT(r->overrides.empty());
  }

  void action_flags() {
    auto r = parse({"-f", "-t", "--print-config", "-c", "/tmp/x.conf", "--show-blocked",
                    "--unblock", "192.0.2.7"});
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT(r->foreground);
    CPPUNIT_ASSERT(r->check_config);
    CPPUNIT_ASSERT(r->print_config);
    CPPUNIT_ASSERT(r->show_blocked);
    CPPUNIT_ASSERT_EQUAL(std::string("/tmp/x.conf"), r->config_file);
    CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.7"), r->unblock);
    auto l = parse({"--foreground", "--check-config", "--config=/a.conf", "--help", "-V"});
    CPPUNIT_ASSERT(l.ok());
    CPPUNIT_ASSERT(l->foreground && l->check_config && l->help && l->version);
    CPPUNIT_ASSERT_EQUAL(std::string("/a.conf"), l->config_file);
    auto missing = parse({"--unblock"});
    CPPUNIT_ASSERT(!missing.ok());
    assert_contains(missing.error().message, "unblock");
    auto uidls = parse({"--print-uidls", "alice@example.org"});
    CPPUNIT_ASSERT(uidls.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("alice@example.org"), uidls->print_uidls);
    CPPUNIT_ASSERT(!parse({"--print-uidls"}).ok());
    auto typo = parse({"--print-uidl=alice"});
    CPPUNIT_ASSERT(!typo.ok());
    assert_contains(typo.error().message, "did you mean '--print-uidls'?");
    auto who = parse({"--who", "--json"});
    CPPUNIT_ASSERT(who.ok() && who->who && who->json && who->kick.empty());
    CPPUNIT_ASSERT(!parse({"--json"}).ok());  // --json alone lists nothing
    auto kick = parse({"--kick", "alice"});
    CPPUNIT_ASSERT(kick.ok() && !kick->who);
    CPPUNIT_ASSERT_EQUAL(std::string("alice"), kick->kick);
    CPPUNIT_ASSERT(!parse({"--kick"}).ok());
  }

  void settings_become_overrides_in_order() {
    auto r = parse(
        {"--pop3.port=1110", "--log.level", "debug", "--pop3.implicit_ssl", "--pop3.port=2110"});
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(size_t(4), r->overrides.size());
    CPPUNIT_ASSERT_EQUAL(std::string("pop3.port"), r->overrides[0].name);
    CPPUNIT_ASSERT_EQUAL(std::string("1110"), r->overrides[0].value);
    CPPUNIT_ASSERT_EQUAL(std::string("log.level"), r->overrides[1].name);
    CPPUNIT_ASSERT_EQUAL(std::string("debug"), r->overrides[1].value);
    // A bare bool option turns the setting on.
    CPPUNIT_ASSERT_EQUAL(std::string("pop3.implicit_ssl"), r->overrides[2].name);
    CPPUNIT_ASSERT_EQUAL(std::string("true"), r->overrides[2].value);
    CPPUNIT_ASSERT_EQUAL(std::string("2110"), r->overrides[3].value);
  }

  void certificate_options_are_accepted() {
    auto r = parse({"--certificates.mine.cert_file=/c.pem", "--certificates.mine.key_file=/k"});
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(size_t(2), r->overrides.size());
    CPPUNIT_ASSERT_EQUAL(std::string("certificates.mine.cert_file"), r->overrides[0].name);
    CPPUNIT_ASSERT_EQUAL(std::string("/c.pem"), r->overrides[0].value);
    auto bad = parse({"--certificates.mine.cert=/c.pem"});
    CPPUNIT_ASSERT(!bad.ok());
    assert_contains(bad.error().message, "did you mean '--certificates.mine.cert_file'?");
    auto novalue = parse({"--certificates.mine.key_file"});
    CPPUNIT_ASSERT(!novalue.ok());
    assert_contains(novalue.error().message, "needs a value");
  }

  void unknown_option_suggests() {
    auto r = parse({"--pop3.prot=110"});
    CPPUNIT_ASSERT(!r.ok());
    assert_contains(r.error().message,
                    "unknown option '--pop3.prot=110'; did you mean '--pop3.port'?");
    auto f = parse({"--forground"});
    CPPUNIT_ASSERT(!f.ok());
    assert_contains(f.error().message, "did you mean '--foreground'?");
    auto x = parse({"-x"});
    CPPUNIT_ASSERT(!x.ok());
    assert_contains(x.error().message, "unknown option '-x'");
  }

  void stray_argument_is_refused() {
    auto r = parse({"pop3.port=110"});
    CPPUNIT_ASSERT(!r.ok());
    assert_contains(r.error().message, "unexpected argument 'pop3.port=110'");
  }

  void prefixes_are_not_guessed() {
    auto r = parse({"--pop3.po=1"});
    CPPUNIT_ASSERT(!r.ok());
    auto h = parse({"--he"});
    CPPUNIT_ASSERT(!h.ok());
  }

  void command_line_override_reaches_settings() {
    auto cl = parse({"--pop3.port=1110"});
    CPPUNIT_ASSERT(cl.ok());
    auto s = load_settings_from_string("pop3 = { port = 7; };", "x.conf", cl->overrides);
    CPPUNIT_ASSERT(s.ok());
    CPPUNIT_ASSERT_EQUAL(1110, s->settings.pop3.port);
  }
};

class ConfigTextTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ConfigTextTest);
  CPPUNIT_TEST(help_lists_options_and_every_setting);
  CPPUNIT_TEST(sample_config_documents_and_loads_to_defaults);
  CPPUNIT_TEST(checked_in_sample_matches);
  CPPUNIT_TEST(checked_in_man_page_matches);
  CPPUNIT_TEST(print_config_round_trips);
  CPPUNIT_TEST(print_config_round_trips_odd_strings_and_certificates);
  CPPUNIT_TEST(man_page_has_every_setting);
  CPPUNIT_TEST_SUITE_END();

 public:
  void help_lists_options_and_every_setting() {
    const std::string h = help_text();
    assert_contains(h, "Usage: pop3d");
    for (const char* opt :
         {"--foreground", "--check-config", "--print-config", "--config", "--help", "--version",
          "--show-blocked", "--unblock", "--print-uidls USER", "--who", "--json", "--kick USER"}) {
      assert_contains(h, opt);
    }
    for (const auto& def : settings_table()) {
      assert_contains(h, "--" + def.name + "=VALUE\n      " + def.help);
    }
    assert_contains(h, "Takes an integer 1-65535. Default: 110\n");
    assert_contains(h, "Default: \"" POP3D_SYSCONFDIR "/pop3d/passwd\"\n");
    assert_contains(h, "Takes a duration from 1s to 1d, in whole seconds. Default: \"10m\"\n");
  }

  void sample_config_documents_and_loads_to_defaults() {
    const std::string text = sample_config();
    for (const auto& def : settings_table()) {
      assert_contains(text, (def.is_instance() ? ": " : "# ") + def.help);
    }
    auto r = load_settings_from_string(text, "sample", {});
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT(r->warnings.empty());
    CPPUNIT_ASSERT_EQUAL(print_config(default_settings()), print_config([&] {
                           Settings s = r->settings;
                           s.config_file.clear();
                           return s;
                         }()));
  }

  // The checked-in file `relative` must equal `generated`. With
  // POP3D_UPDATE_DOCS=1 in the environment the file is rewritten instead,
  // which is how a developer regenerates it after changing the table.
  static void assert_checked_in(const std::string& relative, const std::string& generated) {
    const char* srcdir = std::getenv("POP3D_SRCDIR");
    CPPUNIT_ASSERT_MESSAGE(
        "POP3D_SRCDIR is not set: run through make check or set it to the source tree, "
        "to compare " +
            relative + " with the settings table",
        srcdir != nullptr);
    const std::string path = std::string(srcdir) + "/" + relative;
    if (std::getenv("POP3D_UPDATE_DOCS") != nullptr) std::ofstream(path) << generated;
    std::ifstream in(path);
    CPPUNIT_ASSERT_MESSAGE("cannot read " + path, in.good());
    std::stringstream file;
    file << in.rdbuf();
    CPPUNIT_ASSERT_MESSAGE(relative +
                               " differs from the settings table; regenerate it with "
                               "POP3D_UPDATE_DOCS=1 POP3D_SRCDIR=. build/tests/unit_tests",
                           file.str() == generated);
  }

  void checked_in_sample_matches() { assert_checked_in("etc/pop3d.conf", sample_config()); }

  void checked_in_man_page_matches() { assert_checked_in("doc/pop3d.conf.5", man_page()); }

  void print_config_round_trips() {
    auto r = load_settings_from_string(
        "pop3 = { port = 1110; idle_timeout = \"15m\"; bind = \"list\"; listen = \"::1;a.b\"; "
        "plaintext_auth = \"allow\"; };\n"
        "general = { hostname = \"pop.example\"; anti_hammering = { block_time = 7200; }; };\n"
        "auth = { failure_delay = \"250ms\"; }; log = { level = \"error\"; };",
        "in.conf", {});
    CPPUNIT_ASSERT(r.ok());
    const std::string printed = print_config(r->settings);
    auto again = load_settings_from_string(printed, "printed", {});
    CPPUNIT_ASSERT_MESSAGE(again.ok() ? "" : again.error().message, again.ok());
    again->settings.config_file = r->settings.config_file;
    CPPUNIT_ASSERT_EQUAL(printed, print_config(again->settings));
    CPPUNIT_ASSERT_EQUAL(1110, again->settings.pop3.port);
    CPPUNIT_ASSERT(again->settings.general.anti_hammering.block_time == Seconds(7200));
    CPPUNIT_ASSERT(again->settings.auth.failure_delay == Millis(250));
    assert_contains(printed, "block_time = \"2h\";");
  }

  void print_config_round_trips_odd_strings_and_certificates() {
    Settings s = default_settings();
    s.general.hostname = "quote\" back\\slash\ttab";
    s.certificates.clear();
    s.certificates["a-1"] = {"/c 1.pem", "/k\"1"};
    s.pop3.certificate = "a-1";
    s.pop3.secure_networks.clear();
    auto again = load_settings_from_string(print_config(s), "printed", {});
    CPPUNIT_ASSERT_MESSAGE(again.ok() ? "" : again.error().message, again.ok());
    CPPUNIT_ASSERT_EQUAL(s.general.hostname, again->settings.general.hostname);
    CPPUNIT_ASSERT_EQUAL(size_t(1), again->settings.certificates.size());
    CPPUNIT_ASSERT_EQUAL(std::string("/k\"1"), again->settings.certificates.at("a-1").key_file);
    CPPUNIT_ASSERT(again->settings.pop3.secure_networks.empty());
  }

  void man_page_has_every_setting() {
    const std::string m = man_page_settings();
    assert_contains(m, ".SH SETTINGS");
    assert_contains(m, ".SS pop3\n");
    assert_contains(m, ".B pop3.port\n");
    assert_contains(m, ".B general.anti_hammering.max_failures\n");
    assert_contains(m, ".B certificates.*.cert_file\n");
    assert_contains(m, "Default: 110\n");
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CommandLineTest);
CPPUNIT_TEST_SUITE_REGISTRATION(ConfigTextTest);

}  // namespace pop3d
