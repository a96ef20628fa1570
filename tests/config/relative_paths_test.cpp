// Relative paths in the settings mean what they meant where pop3d was
// started, also when a SIGHUP re-reads the config after the daemon's
// chdir("/"). The tests move the process's directory and put it back.
#include <cppunit/extensions/HelperMacros.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

namespace {

// `to` written relative to `from` (both absolute, without "." or "..").
std::string relative_path(const std::string& from, const std::string& to) {
  std::string up;
  for (char c : from) {
    if (c == '/') up += "../";
  }
  if (from == "/") up.clear();
  return up + to.substr(1);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace

class RelativePathsTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(RelativePathsTest);
  CPPUNIT_TEST(file_settings_are_made_absolute);
  CPPUNIT_TEST(names_that_are_not_files_are_kept);
  CPPUNIT_TEST(include_is_read_from_the_start_directory_after_chdir);
  CPPUNIT_TEST_SUITE_END();

  std::string dir_;
  UniqueFd cwd_;

 public:
  void setUp() override {
    char tmpl[] = "/tmp/pop3d-relpath-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    cwd_ = UniqueFd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    CPPUNIT_ASSERT(cwd_);
  }
  void tearDown() override {
    CPPUNIT_ASSERT_EQUAL(0, ::fchdir(cwd_.get()));
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  void file_settings_are_made_absolute() {
    const std::string start = start_directory();
    CPPUNIT_ASSERT(!start.empty() && start.front() == '/');
    auto r = load_settings_from_string(
        "general = { pid_file = \"run/p.pid\"; };\n"
        "auth = { passwd_file = \"passwd\"; };\n"
        "log = { target = \"logs/pop3d.log\"; };\n"
        "certificates = { main = { cert_file = \"c.pem\"; key_file = \"/etc/k.pem\"; }; };\n"
        "pop3 = { certificate = \"main\"; };\n",
        "t.conf", {});
    CPPUNIT_ASSERT_MESSAGE(r ? "" : r.error().message, r.ok());
    const std::string base = start == "/" ? "/" : start + "/";
    CPPUNIT_ASSERT_EQUAL(base + "run/p.pid", r->settings.general.pid_file);
    CPPUNIT_ASSERT_EQUAL(base + "passwd", r->settings.auth.passwd_file);
    CPPUNIT_ASSERT_EQUAL(base + "logs/pop3d.log", r->settings.log.target);
    CPPUNIT_ASSERT_EQUAL(base + "c.pem", r->settings.certificates.at("main").cert_file);
    CPPUNIT_ASSERT_EQUAL(std::string("/etc/k.pem"), r->settings.certificates.at("main").key_file);
  }

  void names_that_are_not_files_are_kept() {
    for (const char* target : {"syslog", "stderr"}) {
      auto r = load_settings_from_string(std::string("log = { target = \"") + target + "\"; };",
                                         "t.conf", {});
      CPPUNIT_ASSERT(r.ok());
      CPPUNIT_ASSERT_EQUAL(std::string(target), r->settings.log.target);
    }
  }

  // The include is named relative to the start directory; the process then
  // stands somewhere else (as the daemon stands in "/"), where the same
  // relative name leads nowhere.
  void include_is_read_from_the_start_directory_after_chdir() {
    const std::string start = start_directory();
    write_file(dir_ + "/inc.conf", "pop3 = { port = 2110; };\n");
    const std::string inc = relative_path(start, dir_ + "/inc.conf");
    const std::string elsewhere = dir_ + "/a/b/c/d/e/f";
    CPPUNIT_ASSERT_EQUAL(0, std::system(("mkdir -p '" + elsewhere + "'").c_str()));
    write_file(dir_ + "/main.conf",
               "@include \"" + inc + "\"\nauth = { passwd_file = \"pw\"; };\n");
    CPPUNIT_ASSERT_EQUAL(0, ::chdir(elsewhere.c_str()));
    auto r = load_settings(dir_ + "/main.conf", {});
    CPPUNIT_ASSERT_MESSAGE(r ? "" : r.error().message, r.ok());
    CPPUNIT_ASSERT_EQUAL(2110, r->settings.pop3.port);
    CPPUNIT_ASSERT_EQUAL((start == "/" ? "/" : start + "/") + "pw", r->settings.auth.passwd_file);
    // Loading leaves the process where it was.
    char* here = ::getcwd(nullptr, 0);
    const std::string now = here ? here : "";
    std::free(here);
    CPPUNIT_ASSERT_EQUAL(elsewhere, now);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RelativePathsTest);

}  // namespace pop3d
