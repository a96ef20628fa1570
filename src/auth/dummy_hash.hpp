// Dummy hashes: what an unknown user's password is checked against, so
// that refusing a name nobody has costs what a real user's check costs.
//
// A dummy is made from a fresh random password and a fresh random salt,
// never from a user's stored secret: a process that holds one (and every
// process forked from it, such as a user's mail agent) learns nothing about
// anybody's password from it. Only the cost class of a model secret (its
// scheme and, for crypt(3), the "$id$cost$" setting prefix) is copied.
#pragma once

#include <string>
#include <string_view>

#include "auth/secret_string.hpp"

namespace pop3d {

// A stored secret ("{SCHEME}body") in the cost class of `model`, whose
// password nobody knows. When `model` is empty, unsupported, or a crypt(3)
// method this libcrypt cannot make, the dummy is in the default class
// (make_dummy_hash() below).
SecretString make_dummy_hash(std::string_view model);

// A dummy with libxcrypt's default (strongest) method, the one passwd(1)
// uses on this host, which is what most system accounts hold.
SecretString make_dummy_hash();

// The crypt(3) setting prefix that fixes a stored crypt hash's cost, salt
// and hash left out: "$6$rounds=10000$", "$2b$12$", "$y$j9T$", "$1$".
// Empty when `stored` is not a modular crypt(3) string.
std::string crypt_cost_prefix(std::string_view stored);

// This process's default dummy, made on first use. Call it before forking
// so that children share one copy instead of each making its own.
const SecretString& process_dummy_hash();

}  // namespace pop3d
