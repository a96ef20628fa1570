#include "mailstore/uidl_format.hpp"

#include <algorithm>
#include <charconv>

#include "mailstore/maildir_name.hpp"

namespace pop3d {

namespace {

// Digits in a width or offset: more than this is no real format, and the
// bound keeps the arithmetic far from overflow.
constexpr size_t kMaxNumberDigits = 4;

bool printable(char c) {
  return c >= 0x21 && c <= 0x7E;
}

std::string hex_of_decimal(const std::string& value) {
  uint64_t n = 0;
  const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  // Dovecot turns anything that is not wholly a number into 0.
  if (ec != std::errc() || p != value.data() + value.size()) n = 0;
  char buf[17];
  const auto r = std::to_chars(buf, buf + sizeof buf, n, 16);
  return std::string(buf, r.ptr);
}

}  // namespace

Result<UidlFormat> UidlFormat::parse(std::string_view format) {
  UidlFormat f;
  f.text_ = std::string(format);
  std::string literal;
  auto flush_literal = [&] {
    if (literal.empty()) return;
    Piece p;
    p.literal = std::move(literal);
    literal.clear();
    f.pieces_.push_back(std::move(p));
  };
  bool any_var = false;
  size_t i = 0;
  while (i < format.size()) {
    const char c = format[i];
    if (c != '%') {
      if (!printable(c)) {
        return Error{"uidl_format: character " + std::to_string(static_cast<unsigned char>(c)) +
                         " at offset " + std::to_string(i) +
                         " is not allowed in a UIDL (only 0x21-0x7E)",
                     0};
      }
      literal.push_back(c);
      ++i;
      continue;
    }
    const size_t start = i++;
    Piece p;
    // Reads [-][0]digits; returns false when there are too many digits.
    auto read_number = [&](long& out) {
      bool negative = false;
      if (i < format.size() && format[i] == '-') {
        negative = true;
        ++i;
      }
      if (i < format.size() && format[i] == '0') {
        p.zero_pad = true;
        ++i;
      }
      size_t digits = 0;
      long n = 0;
      while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
        if (++digits > kMaxNumberDigits) return false;
        n = n * 10 + (format[i] - '0');
        ++i;
      }
      out = negative ? -n : n;
      return true;
    };
    long first = 0;
    bool ok = read_number(first);
    if (ok && i < format.size() && format[i] == '.') {
      ++i;
      p.has_offset = true;
      p.offset = first;
      p.zero_pad = false;  // the zero that counts is the one before the width
      ok = read_number(p.width);
    } else {
      // Without an offset a minus sign means nothing to Dovecot.
      p.width = first < 0 ? -first : first;
    }
    const std::string shown(format.substr(start, std::min(format.size(), i + 1) - start));
    if (!ok) return Error{"uidl_format: number too long in \"" + shown + "\"", 0};
    while (i < format.size() &&
           (format[i] == 'X' || format[i] == 'U' || format[i] == 'L' || format[i] == 'H' ||
            format[i] == 'N' || format[i] == 'D' || format[i] == 'M' || format[i] == 'R' ||
            format[i] == 'E' || format[i] == 'T' || format[i] == 'B')) {
      const char m = format[i++];
      if (m != 'X' && m != 'U' && m != 'L') {
        return Error{std::string("uidl_format: modifier ") + m + " in \"" +
                         std::string(format.substr(start, i - start + 1)) +
                         "\" is not supported by pop3d (only X, U and L)",
                     0};
      }
      p.modifiers.push_back(m);
    }
    if (i == format.size()) {
      return Error{
          "uidl_format: \"" + std::string(format.substr(start)) + "\" at the end names no variable",
          0};
    }
    const char v = format[i++];
    const std::string piece(format.substr(start, i - start));
    switch (v) {
      case '%':
        if (piece != "%%") {
          return Error{"uidl_format: \"" + piece + "\": %% takes no width or modifier", 0};
        }
        literal.push_back('%');
        continue;
      case 'u':
      case 'v':
        f.needs_uids_ = true;
        [[fallthrough]];
      case 'f':
      case 'g':
        break;
      case 'm':
        return Error{"uidl_format: \"" + piece +
                         "\": %m (header MD5) is not available for Maildir, in Dovecot "
                         "either",
                     0};
      default:
        return Error{"uidl_format: unknown variable \"" + piece + "\" (known: %u %v %f %g)", 0};
    }
    flush_literal();
    p.var = v;
    any_var = true;
    f.pieces_.push_back(std::move(p));
  }
  flush_literal();
  if (!any_var) return Error{"uidl_format: uses no variable (%u, %v, %f or %g)", 0};
  return f;
}

void UidlFormat::apply(const Piece& piece, std::string value, std::string& out) {
  for (char m : piece.modifiers) {
    if (m == 'X') {
      value = hex_of_decimal(value);
    } else {
      for (char& c : value) {
        if (m == 'U' && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        if (m == 'L' && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
    }
  }
  std::string_view v = value;
  const long len = static_cast<long>(v.size());
  if (piece.has_offset) {
    long start = piece.offset >= 0 ? piece.offset : len + piece.offset;
    if (start < 0) start = 0;
    if (start > len) start = len;
    v.remove_prefix(static_cast<size_t>(start));
  }
  const long rest = static_cast<long>(v.size());
  if (piece.zero_pad) {
    if (piece.width > rest) out.append(static_cast<size_t>(piece.width - rest), '0');
  } else if (piece.width > 0) {
    if (piece.width < rest) v = v.substr(0, static_cast<size_t>(piece.width));
  } else if (piece.width < 0) {
    v = v.substr(0, static_cast<size_t>(std::max(0L, rest + piece.width)));
  }
  out.append(v);
}

std::string UidlFormat::expand(const UidlFields& fields) const {
  std::string out;
  for (const Piece& p : pieces_) {
    switch (p.var) {
      case 0:
        out.append(p.literal);
        break;
      case 'u':
        apply(p, std::to_string(fields.uid), out);
        break;
      case 'v':
        apply(p, std::to_string(fields.uidvalidity), out);
        break;
      case 'f':
        apply(p, std::string(fields.base_name), out);
        break;
      case 'g':
        apply(p, std::string(fields.guid.empty() ? fields.base_name : fields.guid), out);
        break;
    }
    // Beyond this the result is discarded anyway (uidl()); the bound keeps a
    // hostile base name from costing more than a few lines of text.
    if (out.size() > 4 * kMaxUidlLength) break;
  }
  return out;
}

std::string UidlFormat::uidl(const UidlFields& fields) const {
  std::string out = expand(fields);
  bool valid = !out.empty() && out.size() <= kMaxUidlLength;
  for (char c : out) valid = valid && printable(c);
  if (valid) return out;
  return maildir_uidl(fields.base_name);
}

}  // namespace pop3d
