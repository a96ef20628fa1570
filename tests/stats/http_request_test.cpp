#include <cppunit/extensions/HelperMacros.h>

#include <string>

#include "stats/http_request.hpp"

namespace pop3d {

class HttpRequestTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(HttpRequestTest);
  CPPUNIT_TEST(prometheus_request_parses);
  CPPUNIT_TEST(lf_only_lines_parse);
  CPPUNIT_TEST(http10_without_headers_parses);
  CPPUNIT_TEST(incomplete_head_asks_for_more);
  CPPUNIT_TEST(missing_version_is_malformed);
  CPPUNIT_TEST(malformed_heads_are_refused);
  CPPUNIT_TEST(oversized_head_is_refused);
  CPPUNIT_TEST(head_just_under_the_limit_parses);
  CPPUNIT_TEST(too_many_headers_are_refused);
  CPPUNIT_TEST(repeated_accept_headers_are_joined);
  CPPUNIT_TEST_SUITE_END();

  static HttpParseStatus status_of(const std::string& in) {
    return parse_http_request_head(in).status;
  }

 public:
  void prometheus_request_parses() {
    const std::string in =
        "GET /metrics?debug=1 HTTP/1.1\r\n"
        "Host: 127.0.0.1:9110\r\n"
        "User-Agent: Prometheus/2.42.0\r\n"
        "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
        "accept-encoding:gzip\r\n"
        "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"
        "\r\n"
        "trailing body bytes";
    const HttpParseResult r = parse_http_request_head(in);
    CPPUNIT_ASSERT(r.status == HttpParseStatus::kComplete);
    CPPUNIT_ASSERT_EQUAL(std::string("GET"), r.head.method);
    CPPUNIT_ASSERT_EQUAL(std::string("/metrics?debug=1"), r.head.target);
    CPPUNIT_ASSERT_EQUAL(std::string("/metrics"), r.head.path);
    CPPUNIT_ASSERT_EQUAL(1, r.head.minor_version);
    CPPUNIT_ASSERT(r.head.accept.find("application/openmetrics-text;version=1.0.0") == 0);
    CPPUNIT_ASSERT(r.head.accept.find("*/*;q=0.1") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL(in.find("trailing"), r.head_length);
  }

  void lf_only_lines_parse() {
    const HttpParseResult r =
        parse_http_request_head("GET /metrics HTTP/1.1\nAccept:  text/plain \n\n");
    CPPUNIT_ASSERT(r.status == HttpParseStatus::kComplete);
    CPPUNIT_ASSERT_EQUAL(std::string("text/plain"), r.head.accept);
    // Mixed endings, and one empty line before the request line.
    CPPUNIT_ASSERT(status_of("\r\nGET / HTTP/1.0\nA: b\r\n\n") == HttpParseStatus::kComplete);
  }

  void http10_without_headers_parses() {
    const HttpParseResult r = parse_http_request_head("GET /other HTTP/1.0\r\n\r\n");
    CPPUNIT_ASSERT(r.status == HttpParseStatus::kComplete);
    CPPUNIT_ASSERT_EQUAL(0, r.head.minor_version);
    CPPUNIT_ASSERT_EQUAL(std::string("/other"), r.head.path);
    CPPUNIT_ASSERT(r.head.accept.empty());
  }

  void incomplete_head_asks_for_more() {
    CPPUNIT_ASSERT(status_of("") == HttpParseStatus::kIncomplete);
    CPPUNIT_ASSERT(status_of("GET /metr") == HttpParseStatus::kIncomplete);
    CPPUNIT_ASSERT(status_of("GET /metrics HTTP/1.1\r\n") == HttpParseStatus::kIncomplete);
    CPPUNIT_ASSERT(status_of("GET /metrics HTTP/1.1\r\nHost: x\r\n") ==
                   HttpParseStatus::kIncomplete);
  }

  void missing_version_is_malformed() {
    const HttpParseResult r = parse_http_request_head("GET /metrics\r\n\r\n");
    CPPUNIT_ASSERT(r.status == HttpParseStatus::kMalformed);
    CPPUNIT_ASSERT_EQUAL(std::string("no HTTP version"), r.error);
    CPPUNIT_ASSERT(status_of("GET\r\n\r\n") == HttpParseStatus::kMalformed);
  }

  void malformed_heads_are_refused() {
    const char* bad[] = {
        "GET /metrics HTTP/2.0\r\n\r\n",                // not 1.0 or 1.1
        "GET /metrics HTTP/1.1 \r\n\r\n",               // trailing space
        "GET  /metrics HTTP/1.1\r\n\r\n",               // two spaces
        "G(T /metrics HTTP/1.1\r\n\r\n",                // not a token
        "GET /met\x01rics HTTP/1.1\r\n\r\n",            // control in the target
        "GET /metrics HTTP/1.1\r\nHost x\r\n\r\n",      // no colon
        "GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n",    // space before the colon
        "GET /metrics HTTP/1.1\r\nA: b\r\n c\r\n\r\n",  // folded line
        "GET /metrics HTTP/1.1\r\nA: b\rc\r\n\r\n",     // bare CR
        "GET /metrics HTTP/1.1\r\nA: \x7f\r\n\r\n",     // DEL in a value
        "\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n",        // two empty lines first
    };
    for (const char* in : bad) {
      CPPUNIT_ASSERT_MESSAGE(in, status_of(in) == HttpParseStatus::kMalformed);
    }
    // A NUL is refused even before the line is whole.
    CPPUNIT_ASSERT(status_of(std::string("GET /\0", 6)) == HttpParseStatus::kMalformed);
    CPPUNIT_ASSERT(status_of(std::string("GET /metrics HTTP/1.1\r\nA: \0\r\n\r\n", 32)) ==
                   HttpParseStatus::kMalformed);
  }

  void oversized_head_is_refused() {
    // One endless header line, and many lines that never end the head.
    std::string line =
        "GET /metrics HTTP/1.1\r\nX: " + std::string(http_limits::kMaxRequestHead, 'a');
    CPPUNIT_ASSERT(status_of(line) == HttpParseStatus::kTooLarge);
    std::string target = "GET /" + std::string(http_limits::kMaxRequestHead + 1, 'a');
    CPPUNIT_ASSERT(status_of(target) == HttpParseStatus::kTooLarge);
    // Exactly at the limit with no end yet: still waiting, not refused.
    CPPUNIT_ASSERT(status_of(target.substr(0, http_limits::kMaxRequestHead)) ==
                   HttpParseStatus::kIncomplete);
  }

  void head_just_under_the_limit_parses() {
    const std::string start = "GET /metrics HTTP/1.1\r\nX: ";
    const std::string end = "\r\n\r\n";
    const std::string in =
        start + std::string(http_limits::kMaxRequestHead - start.size() - end.size(), 'v') + end;
    CPPUNIT_ASSERT_EQUAL(http_limits::kMaxRequestHead, in.size());
    CPPUNIT_ASSERT(status_of(in) == HttpParseStatus::kComplete);
    // One byte more and the empty line falls outside the limit.
    const std::string over =
        start + std::string(http_limits::kMaxRequestHead - start.size() - end.size() + 1, 'v') +
        end;
    CPPUNIT_ASSERT(status_of(over) == HttpParseStatus::kTooLarge);
  }

  void too_many_headers_are_refused() {
    std::string in = "GET /metrics HTTP/1.1\r\n";
    for (size_t i = 0; i < http_limits::kMaxHeaders; ++i) in += "A: b\r\n";
    CPPUNIT_ASSERT(status_of(in + "\r\n") == HttpParseStatus::kComplete);
    CPPUNIT_ASSERT(status_of(in + "A: b\r\n\r\n") == HttpParseStatus::kMalformed);
  }

  void repeated_accept_headers_are_joined() {
    const HttpParseResult r = parse_http_request_head(
        "GET /metrics HTTP/1.1\r\nAccept: text/plain\r\nACCEPT: "
        "application/openmetrics-text\r\n\r\n");
    CPPUNIT_ASSERT(r.status == HttpParseStatus::kComplete);
    CPPUNIT_ASSERT_EQUAL(std::string("text/plain, application/openmetrics-text"), r.head.accept);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(HttpRequestTest);

}  // namespace pop3d
