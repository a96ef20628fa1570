// pop3d --who [--json] and pop3d --kick USER: the sessions in progress, as
// the running daemon's connection table has them, and ending a user's
// sessions from outside. Both map the table file next to the pid file, so
// they work as root or as the service user, without a control protocol.
//
// Any worker can write that file, so what it says is only as true as the
// workers are: every string is bounded and escaped before it is printed,
// and --kick signals only processes of the service user that the table
// names as sessions of that user.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.hpp"
#include "security/connection_table.hpp"

namespace pop3d {

// The table's rows, one line each under a header line; or a line saying
// that there are none.
std::string sessions_text(const std::vector<SessionInfo>& sessions);
// The same as one JSON array of objects: user (null before login), client,
// state ("AUTHORIZATION" or "TRANSACTION"), since (local time, ISO 8601),
// since_epoch, octets_sent, pid.
std::string sessions_json(const std::vector<SessionInfo>& sessions);
// `s` as a JSON string: quotes, backslashes and control characters
// escaped, valid UTF-8 kept, every other byte written as \u00XX, so the
// result is valid JSON whatever `s` holds.
std::string json_string(std::string_view s);

// --who: prints the sessions to `out` and returns 0; one line on `err` and
// 1 when the table cannot be read.
int show_sessions(const Settings& settings, bool json, std::ostream& out, std::ostream& err);
// --kick USER: asks each of USER's sessions to end as a dropped connection
// would (nothing committed), waits a little for them to go, says how many
// ended and returns 0, or 1 when none did.
int kick_sessions(const Settings& settings, const std::string& user, std::ostream& out,
                  std::ostream& err);

}  // namespace pop3d
