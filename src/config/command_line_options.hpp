// The Boost.Program_options descriptions behind the command line, shared by
// the parser and --help so the two cannot list different options.
#pragma once

#include <boost/program_options/options_description.hpp>

namespace pop3d {

// -c, -f, -t, --print-config, --show-blocked, --unblock, --print-uidls,
// --who, --json, --kick, -h, -V.
boost::program_options::options_description action_options();
// One --group.name=VALUE per setting in the table (certificates excepted).
boost::program_options::options_description setting_options();

}  // namespace pop3d
