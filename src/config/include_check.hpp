// check_includes: vets every `@include` of a config text before libconfig
// reads it.
//
// libconfig 1.5 (Debian's) opens included files itself, and its scanner
// calls exit() ("input in flex scanner failed") when one cannot be read as
// a stream, such as a directory, and blocks for good on a FIFO. Either
// would end pop3d without naming the file and line (at SIGHUP: the running
// master). So each included path, and each path those files include in
// turn, must first be a regular file of bounded size that reads to its end;
// otherwise the error names the including file, its line and the path.
#pragma once

#include <string>
#include <string_view>

#include "util/result.hpp"

namespace pop3d {

// libconfig's own limit on nested includes; deeper nesting is left for it
// to report.
inline constexpr int kMaxIncludeDepth = 10;

// `text` is the content of `source_name`; relative include paths are taken
// from the current directory, as libconfig does without an include dir.
// Files larger than `max_bytes` are refused.
Status check_includes(std::string_view text, const std::string& source_name, size_t max_bytes);

}  // namespace pop3d
