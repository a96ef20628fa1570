// run_session(): the POP3 state machine. Skeleton; filled in below.
#include "pop3/session.hpp"

namespace pop3d {

SessionSummary run_session(SessionContext& context, std::unique_ptr<Transport> transport) {
  (void)context;
  (void)transport;
  SessionSummary summary;
  summary.end = "disconnect";
  return summary;
}

}  // namespace pop3d
