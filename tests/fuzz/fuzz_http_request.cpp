// Fuzz target: the stats server's HTTP request-head parser
// (stats/http_request.hpp), and the exposition format chosen from the
// Accept header it returns. Besides not crashing, the parser must keep its
// promises: a whole head lies within the input and the limit, a refusal
// for length only comes past the limit, more input never turns a refusal
// into a success, and the fields it returns hold no CR, LF or NUL.
#include <cstdlib>

#include "fuzz_common.hpp"
#include "stats/exposition.hpp"
#include "stats/http_request.hpp"

using namespace pop3d;

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

bool clean(const std::string& s) {
  return s.find_first_of(std::string("\r\n\0", 3)) == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 2 * http_limits::kMaxRequestHead) return 0;  // the parser looks no further
  const std::string_view input = fuzz::as_text(data, size);
  const HttpParseResult r = parse_http_request_head(input);
  switch (r.status) {
    case HttpParseStatus::kIncomplete:
      check(size <= http_limits::kMaxRequestHead);
      break;
    case HttpParseStatus::kTooLarge:
      check(size > http_limits::kMaxRequestHead);
      break;
    case HttpParseStatus::kMalformed:
      check(!r.error.empty());
      break;
    case HttpParseStatus::kComplete: {
      check(r.head_length > 0 && r.head_length <= size);
      check(r.head_length <= http_limits::kMaxRequestHead);
      check(!r.head.method.empty() && clean(r.head.method));
      check(!r.head.target.empty() && clean(r.head.target) && clean(r.head.accept));
      check(r.head.path.size() <= r.head.target.size());
      check(r.head.minor_version == 0 || r.head.minor_version == 1);
      // The head alone parses the same, and a body after it changes nothing.
      const HttpParseResult alone = parse_http_request_head(input.substr(0, r.head_length));
      check(alone.status == HttpParseStatus::kComplete && alone.head_length == r.head_length);
      check(alone.head.target == r.head.target && alone.head.accept == r.head.accept);
      (void)exposition_content_type(choose_exposition_format(r.head.accept));
      break;
    }
  }
  // A refusal stays a refusal when more bytes arrive.
  if (r.status == HttpParseStatus::kMalformed && size < http_limits::kMaxRequestHead) {
    std::string more(input);
    more += "\r\n\r\n";
    check(parse_http_request_head(more).status == HttpParseStatus::kMalformed);
  }
  return 0;
}
