// HttpRequestHead: the request line and headers of one HTTP/1.0 or 1.1
// request, as the stats server reads them from a scraper. Only what serving
// /metrics needs is kept (method, target, version, Accept); the parser is
// strict and bounded, because the bytes come from whoever can reach the
// stats port.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pop3d {

namespace http_limits {
// A scraper sends a request line and a handful of short headers; Prometheus
// sends well under 1 KiB. 8 KiB, as many servers allow, bounds what one
// connection can make the stats process hold.
inline constexpr size_t kMaxRequestHead = 8 * 1024;
// Headers in one request: far more than any scraper sends.
inline constexpr size_t kMaxHeaders = 64;
}  // namespace http_limits

struct HttpRequestHead {
  std::string method;     // "GET"
  std::string target;     // "/metrics?x=1", as sent
  std::string path;       // the target without its query: "/metrics"
  int minor_version = 0;  // HTTP/1.<minor_version>: 0 or 1
  std::string accept;     // the Accept header(s), joined by ", "; empty if none
};

enum class HttpParseStatus {
  kIncomplete,  // no end of the head yet, and still within the limit
  kComplete,
  kMalformed,
  kTooLarge,  // no end of the head within http_limits::kMaxRequestHead
};

struct HttpParseResult {
  HttpParseStatus status = HttpParseStatus::kIncomplete;
  HttpRequestHead head;    // filled in when status == kComplete
  size_t head_length = 0;  // bytes of `input` the head took, with its empty line
  std::string error;       // what was wrong, for the log
};

// Parses the head at the start of `input` (what has arrived so far). Lines
// end in CRLF or a bare LF; the head ends with an empty line. Anything after
// it (a body) is not looked at.
HttpParseResult parse_http_request_head(std::string_view input);

}  // namespace pop3d
