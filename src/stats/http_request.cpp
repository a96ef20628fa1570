#include "stats/http_request.hpp"

#include <algorithm>

namespace pop3d {

namespace {

// RFC 9110 5.6.2: tchar.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// Visible ASCII, no space: what a request target may hold (RFC 9112 3.2).
bool is_target(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Field values: visible ASCII, space, tab and obs-text; never CR, LF or NUL
// or other controls (RFC 9110 5.5).
bool is_field_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

HttpParseResult malformed(std::string why) {
  HttpParseResult r;
  r.status = HttpParseStatus::kMalformed;
  r.error = std::move(why);
  return r;
}

// "GET /metrics HTTP/1.1": exactly one space between the three parts.
bool parse_request_line(std::string_view line, HttpRequestHead& head, std::string& error) {
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) {
    error = "no request target";
    return false;
  }
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    error = "no HTTP version";  // HTTP/0.9 is not served
    return false;
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) {
    error = "bad method";
    return false;
  }
  if (!is_target(target)) {
    error = "bad request target";
    return false;
  }
  if (version == "HTTP/1.1") {
    head.minor_version = 1;
  } else if (version == "HTTP/1.0") {
    head.minor_version = 0;
  } else {
    error = "unsupported HTTP version";
    return false;
  }
  head.method = method;
  head.target = target;
  head.path = target.substr(0, target.find('?'));
  return true;
}

}  // namespace

HttpParseResult parse_http_request_head(std::string_view input) {
  const std::string_view window = input.substr(0, http_limits::kMaxRequestHead);
  HttpRequestHead head;
  size_t pos = 0;
  size_t lines = 0;
  bool skipped_empty = false;
  for (;;) {
    const size_t lf = window.find('\n', pos);
    if (lf == std::string_view::npos) {
      // Garbage is refused as soon as it shows, without waiting for the
      // rest: a NUL or a bare CR can never become a valid head.
      if (window.find('\0', pos) != std::string_view::npos) return malformed("NUL byte");
      if (input.size() > http_limits::kMaxRequestHead) {
        HttpParseResult r;
        r.status = HttpParseStatus::kTooLarge;
        r.error = "request head longer than " + std::to_string(http_limits::kMaxRequestHead);
        return r;
      }
      return {};
    }
    std::string_view line = window.substr(pos, lf - pos);
    pos = lf + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return malformed("bare CR");
    if (line.find('\0') != std::string_view::npos) return malformed("NUL byte");
    if (lines == 0) {
      // RFC 9112 2.2: a server should skip at least one empty line before
      // the request line (some clients send a CRLF after a POST body); one.
      if (line.empty() && !skipped_empty) {
        skipped_empty = true;
        continue;
      }
      std::string error;
      if (!parse_request_line(line, head, error)) return malformed(std::move(error));
      ++lines;
      continue;
    }
    if (line.empty()) break;  // the end of the head
    if (++lines > http_limits::kMaxHeaders + 1) return malformed("too many header fields");
    // Obsolete line folding (RFC 9112 5.2) may be refused; it is.
    if (line.front() == ' ' || line.front() == '\t') return malformed("folded header line");
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return malformed("header line without a colon");
    const std::string_view name = line.substr(0, colon);
    // No space between the name and the colon (RFC 9112 5.1).
    if (!is_token(name)) return malformed("bad header field name");
    const std::string_view value = trim_ows(line.substr(colon + 1));
    if (!is_field_value(value)) return malformed("bad header field value");
    if (iequals(name, "accept")) {
      if (!head.accept.empty()) head.accept += ", ";
      head.accept += value;
    }
  }
  HttpParseResult r;
  r.status = HttpParseStatus::kComplete;
  r.head = std::move(head);
  r.head_length = pos;
  return r;
}

}  // namespace pop3d
