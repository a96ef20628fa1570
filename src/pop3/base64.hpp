// Base64 (RFC 4648) for SASL exchanges (RFC 5034): challenges go out
// encoded, client responses come in encoded and are decoded strictly, so a
// malformed response is refused instead of guessed at.
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
