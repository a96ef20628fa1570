// Helpers for the src/auth tests: a scratch directory, file writing, and a
// way to read what the logger wrote.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cppunit/extensions/HelperMacros.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "log/logger.hpp"

namespace pop3d::auth_test {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pop3d-auth-XXXXXX").string();
    CPPUNIT_ASSERT(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  CPPUNIT_ASSERT(out.good());
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Sends the process's log to a file for the life of this object, then back
// to stderr, so a test can check what was (and was not) logged.
class CapturedLog {
 public:
  explicit CapturedLog(const std::string& path) : path_(path) {
    CPPUNIT_ASSERT(Logger::instance().configure(path_, LogLevel::kDebug).ok());
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  ~CapturedLog() { (void)Logger::instance().configure("stderr", LogLevel::kInfo); }
  std::string text() const { return read_file(path_); }

 private:
  std::string path_;
};

}  // namespace pop3d::auth_test
