// @include vetting: what libconfig 1.5 would otherwise answer with exit()
// (a directory), a hang (a FIFO) or a read error, is refused with the file
// and line, whether the include sits in the main file or deeper.
#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config.hpp"
#include "config/include_check.hpp"

namespace pop3d {

namespace {

constexpr size_t kMax = 1024 * 1024;

void assert_contains(const std::string& haystack, const std::string& needle) {
  CPPUNIT_ASSERT_MESSAGE("'" + needle + "' not in: " + haystack,
                         haystack.find(needle) != std::string::npos);
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/pop3d-include-XXXXXX";
    CPPUNIT_ASSERT(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name, const std::string& text) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string include_line(const std::string& path) {
  return "@include \"" + path + "\"\n";
}

std::string check_error(const std::string& text, size_t max = kMax) {
  Status s = check_includes(text, "main.conf", max);
  CPPUNIT_ASSERT_MESSAGE("expected an error for: " + text, !s.ok());
  return s.error().message;
}

}  // namespace

class IncludeCheckTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(IncludeCheckTest);
  CPPUNIT_TEST(text_without_includes_passes);
  CPPUNIT_TEST(regular_file_passes);
  CPPUNIT_TEST(directory_is_refused_with_file_and_line);
  CPPUNIT_TEST(fifo_is_refused_without_blocking);
  CPPUNIT_TEST(missing_file_is_named);
  CPPUNIT_TEST(unreadable_regular_file_is_refused);
  CPPUNIT_TEST(nested_include_names_the_inner_file);
  CPPUNIT_TEST(includes_in_comments_and_strings_do_not_count);
  CPPUNIT_TEST(escaped_quote_in_path);
  CPPUNIT_TEST(oversized_include_is_refused);
  CPPUNIT_TEST(self_include_is_bounded);
  CPPUNIT_TEST(loader_refuses_directory_include);
  CPPUNIT_TEST(loader_still_reads_good_includes);
  CPPUNIT_TEST_SUITE_END();

 public:
  void text_without_includes_passes() {
    CPPUNIT_ASSERT(check_includes("pop3 = { port = 110; };\n# @include \"/\"\n", "m", kMax).ok());
  }

  void regular_file_passes() {
    TempDir d;
    const std::string inc = d.file("a.conf", "log = { level = \"info\"; };\n");
    CPPUNIT_ASSERT(check_includes("x = 1;\n  " + include_line(inc), "m", kMax).ok());
  }

  void directory_is_refused_with_file_and_line() {
    const std::string e = check_error("pop3 = { port = 110; };\n\t@include  \"/\"\n");
    assert_contains(e, "main.conf:2: @include \"/\": not a regular file");
  }

  void fifo_is_refused_without_blocking() {
    TempDir d;
    const std::string fifo = d.path() + "/fifo";
    CPPUNIT_ASSERT_EQUAL(0, ::mkfifo(fifo.c_str(), 0600));
    assert_contains(check_error(include_line(fifo)), "not a regular file");
  }

  void missing_file_is_named() {
    assert_contains(check_error("\n\n" + include_line("/nonexistent/pop3d.conf")),
                    "main.conf:3: @include \"/nonexistent/pop3d.conf\": No such file");
  }

  // A regular file whose read fails: libconfig's scanner would exit().
  // /proc/self/mem is such a file for every user, root included (offset 0
  // is never mapped, so read() gives EIO); no file a test could make on
  // disk fails that way. pop3d needs Linux anyway (prctl, sendfile).
  void unreadable_regular_file_is_refused() {
    struct stat st;
    CPPUNIT_ASSERT_MESSAGE(
        "this test needs procfs mounted at /proc: /proc/self/mem is its regular file whose "
        "read fails",
        ::stat("/proc/self/mem", &st) == 0 && S_ISREG(st.st_mode));
    assert_contains(check_error(include_line("/proc/self/mem")),
                    "main.conf:1: @include \"/proc/self/mem\": Input/output error");
  }

  void nested_include_names_the_inner_file() {
    TempDir d;
    const std::string inner = d.file("inner.conf", "a = 1;\n" + include_line(d.path()));
    const std::string outer = d.file("outer.conf", include_line(inner));
    const std::string e = check_error(include_line(outer));
    assert_contains(e, inner + ":2: @include \"" + d.path() + "\": not a regular file");
  }

  void includes_in_comments_and_strings_do_not_count() {
    const std::string text =
        "/* a block comment\n@include \"/\"\n*/\n"
        "s = \"a string\n@include \\\"/\\\"\n\";\n"
        "// @include \"/\"\n";
    CPPUNIT_ASSERT(check_includes(text, "m", kMax).ok());
    // After the comment ends, the next line counts again.
    assert_contains(check_error(text + include_line("/")), "main.conf:8:");
  }

  void escaped_quote_in_path() {
    TempDir d;
    d.file("q\"uote.conf", "a = 1;\n");
    CPPUNIT_ASSERT(
        check_includes("@include \"" + d.path() + "/q\\\"uote.conf\"\n", "m", kMax).ok());
  }

  void oversized_include_is_refused() {
    TempDir d;
    const std::string big = d.file("big.conf", std::string(200, '#'));
    assert_contains(check_error(include_line(big), 100), "larger than 100 bytes");
  }

  void self_include_is_bounded() {
    TempDir d;
    const std::string self = d.path() + "/self.conf";
    d.file("self.conf", include_line(self) + include_line(self));
    assert_contains(check_error(include_line(self)), "more than 256 included files");
  }

  void loader_refuses_directory_include() {
    // Found by fuzz_config: libconfig's scanner called exit() here.
    auto r = load_settings_from_string("p = \"x\"# ;\n@include \"/\"x\"# ;\n@include \"c",
                                       "fuzz.conf", {});
    CPPUNIT_ASSERT(!r.ok());
    assert_contains(r.error().message, "fuzz.conf:2: @include \"/\": not a regular file");
    TempDir d;
    const std::string conf = d.file("pop3d.conf", "pop3 = { port = 110; };\n" + include_line("/"));
    auto f = load_settings(conf, {});
    CPPUNIT_ASSERT(!f.ok());
    assert_contains(f.error().message, conf + ":2: @include \"/\": not a regular file");
  }

  void loader_still_reads_good_includes() {
    TempDir d;
    const std::string inc = d.file("log.conf", "log = { level = \"debug\"; };\n");
    const std::string conf = d.file("pop3d.conf", "pop3 = { port = 2110; };\n" + include_line(inc));
    auto f = load_settings(conf, {});
    CPPUNIT_ASSERT_MESSAGE(f.ok() ? "" : f.error().message, f.ok());
    CPPUNIT_ASSERT_EQUAL(2110, static_cast<int>(f->settings.pop3.port));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(IncludeCheckTest);

}  // namespace pop3d
