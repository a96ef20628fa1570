// pop3d --print-uidls USER: what pop3d will present to USER's client
// (number, UIDL, size, as UIDL and LIST would give them), so that an
// administrator can compare it with what the old server presents before
// switching (doc/MIGRATING.md).
#pragma once

#include <iosfwd>
#include <string>

#include "config/settings.hpp"

namespace pop3d {

// Looks USER up in the configured user database, becomes the identity
// pop3d reads that user's mail as, opens the maildrop as a login would
// (taking the session lock only while it lists), prints one line per
// message to `out` and returns 0. Returns 1 with one line on `err` when the
// user is unknown, the maildrop is in use or cannot be read.
int print_uidls(const Settings& settings, const std::string& user, std::ostream& out,
                std::ostream& err);

}  // namespace pop3d
