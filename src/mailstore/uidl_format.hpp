// pop3.uidl_format: Dovecot's pop3_uidl_format, parsed once when the
// settings load and expanded per message, so a maildrop Dovecot served
// keeps the UIDLs its clients remember. What is accepted and what each
// piece produces follows what Dovecot 2.3.19 (Debian 12) was seen to do,
// not a reading of its source; tests/mailstore/uidl_format_test.cpp holds
// the observed outputs.
//
// A variable is "%" [ "-" ] [ "0" ] [ digits ] [ "." [ "-" ] [ "0" ] digits ]
// { modifier } letter:
//   letters:   u  the message's uid (dovecot-uidlist), decimal
//              v  the maildrop's uidvalidity, decimal
//              f  the Maildir base name (no ":2,flags")
//              g  the message's GUID: the uidlist's G field, else the base
//                 name (as Dovecot's Maildir storage gives it)
//   modifiers: X  the value read as a decimal number, written in lower-case
//                 hex (Dovecot's X is lower case; a value that is not a
//                 number becomes "0"); U upper case; L lower case. They
//                 apply left to right, so "%XUv" is upper-case hex.
//   "0N"       pads with leading zeros to N characters, never cuts;
//   "N"        without the zero keeps the first N characters;
//   "O.N"      skips O characters (from the end when O is negative), then
//              keeps N (all when N is 0; all but the last N when negative).
// "%%" is a literal '%'. The format must use at least one variable.
//
// Refused at load, each error naming the piece: an unknown letter (%x, %{),
// %m (a header MD5, which Dovecot's Maildir storage cannot give either),
// modifiers pop3d does not implement (H, N, D, M, R, ...), modifiers on %%,
// a '%' at the end (Dovecot drops it silently; here it is almost surely a
// typo), and literal text outside 0x21-0x7E (a space would split every UIDL
// in two for the client).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace pop3d {

// What a format can draw on for one message.
struct UidlFields {
  uint32_t uid = 0;
  uint32_t uidvalidity = 0;
  std::string_view base_name;
  std::string_view guid;  // empty: the base name stands in, as in Dovecot
};

class UidlFormat {
 public:
  // Dovecot's default, and what "auto" uses for a maildrop with a
  // dovecot-uidlist.
  static constexpr std::string_view kDovecotDefault = "%08Xu%08Xv";

  static Result<UidlFormat> parse(std::string_view format);

  // The bytes Dovecot would present for this message, unchecked.
  std::string expand(const UidlFields& fields) const;

  // expand() when that is a UIDL RFC 1939 allows (1-70 characters in
  // 0x21-0x7E). Otherwise (a %f of a name with odd bytes, an offset past
  // the end, a result over 70) Dovecot would send something clients choke
  // on; pop3d sends the file-name UIDL of the base name instead, which is
  // valid, stable and unique per message.
  std::string uidl(const UidlFields& fields) const;

  // True when the format needs a uid or uidvalidity, i.e. a dovecot-uidlist.
  bool needs_uids() const { return needs_uids_; }
  const std::string& text() const { return text_; }

 private:
  struct Piece {
    std::string literal;  // used when var == 0
    char var = 0;         // 'u', 'v', 'f', 'g'
    std::string modifiers;
    bool zero_pad = false;
    bool has_offset = false;
    long offset = 0;
    long width = 0;
  };
  static void apply(const Piece& piece, std::string value, std::string& out);

  std::string text_;
  std::vector<Piece> pieces_;
  bool needs_uids_ = false;
};

}  // namespace pop3d
