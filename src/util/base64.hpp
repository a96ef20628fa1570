// Base64 (RFC 4648), one strict codec for every part that needs it: SASL
// exchanges (RFC 5034) and the password schemes that store digests,
// salts and keys in base64 (Dovecot's {SSHA}, {SCRAM-SHA-256}, ...).
// Decoding refuses anything non-canonical instead of guessing at it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pop3d {

std::string base64_encode(std::string_view data);

// nullopt unless `text` is canonical base64: length a multiple of 4, only
// the alphabet, and '=' padding only at the end.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace pop3d
