#include "admin/who.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <ostream>
#include <thread>

#include "daemon/service.hpp"
#include "daemon/signals.hpp"
#include "log/logger.hpp"
#include "sharedstate/address_state.hpp"

namespace pop3d {

namespace {

// A worker holds the table's lock for a few comparisons; one that holds it
// longer is stuck or subverted, and the administrator hears so instead of
// waiting with it.
constexpr std::chrono::milliseconds kLockWait{2000};
// How long --kick waits for the kicked sessions to go. A session waiting on
// its client ends at once; one checking a password first finishes that.
constexpr std::chrono::milliseconds kKickWait{5000};
constexpr std::chrono::milliseconds kKickPoll{20};
// A user name escaped for a text line: at most four bytes for each of its
// bytes (\xNN), so log_escape never cuts it.
constexpr size_t kEscapedUserMax = 4 * ConnectionTable::kMaxUser;

const char* state_name(const SessionInfo& s) {
  return s.logged_in ? "TRANSACTION" : "AUTHORIZATION";
}

// The whole address (a /128 is shown without its prefix).
std::string address_text(const IpKey& key) {
  return describe_address_key(key, 128);
}

// Local time, "2026-12-02T13:30:01+01:00" (ISO 8601) or, with `readable`,
// "2026-12-02 13:30:01"; empty when the value is no time this machine can
// show (garbage from the mapping).
std::string local_time(int64_t seconds, bool readable) {
  const auto t = static_cast<time_t>(seconds);
  if (static_cast<int64_t>(t) != seconds) return "";
  tm parts{};
  if (::localtime_r(&t, &parts) == nullptr) return "";
  char buf[64];
  if (::strftime(buf, sizeof buf, readable ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%dT%H:%M:%S%z", &parts) ==
      0) {
    return "";
  }
  std::string text = buf;
  // %z gives "+0100"; ISO 8601's extended form wants "+01:00".
  if (!readable && text.size() >= 5) text.insert(text.size() - 2, ":");
  return text;
}

// Oldest first, as an administrator reads a list of sessions.
std::vector<SessionInfo> in_order(std::vector<SessionInfo> sessions) {
  std::sort(sessions.begin(), sessions.end(), [](const SessionInfo& a, const SessionInfo& b) {
    return a.since != b.since ? a.since < b.since : a.pid < b.pid;
  });
  return sessions;
}

// The length of the valid UTF-8 sequence at the start of `s` (two to four
// bytes, no overlong forms or surrogates), or 0.
size_t utf8_sequence(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = byte(0);
  size_t n = 0;
  uint32_t cp = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  return n;
}

Result<ConnectionTable> open_table(const Settings& settings) {
  return ConnectionTable::open(connection_table_path(settings));
}

// Whether `pid` is a process of `uid` (the service user, who owns the
// table). Run as root, --kick must not become a way for a worker, which
// can write any pid into the table, to have root signal a process the
// worker could not signal itself.
bool runs_as(pid_t pid, uid_t uid) {
  struct stat st;
  const std::string proc = "/proc/" + std::to_string(pid);
  return ::stat(proc.c_str(), &st) == 0 && st.st_uid == uid;
}

// Which of `pids` still hold a session of `user`.
Result<std::vector<pid_t>> still_running(ConnectionTable& table, const std::string& user,
                                         const std::vector<pid_t>& pids) {
  auto sessions = table.snapshot(kLockWait);
  if (!sessions) return sessions.error();
  std::vector<pid_t> left;
  for (const SessionInfo& s : *sessions) {
    if (s.user == user && std::find(pids.begin(), pids.end(), s.pid) != pids.end() &&
        std::find(left.begin(), left.end(), s.pid) == left.end()) {
      left.push_back(s.pid);
    }
  }
  return left;
}

}  // namespace

std::string json_string(std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (const size_t n = c >= 0x80 ? utf8_sequence(s.substr(i)) : 0; n > 0) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
    ++i;
  }
  return out + "\"";
}

std::string sessions_text(const std::vector<SessionInfo>& sessions) {
  if (sessions.empty()) return "no session is in progress\n";
  const std::vector<std::string> header = {"USER", "CLIENT", "STATE", "SINCE", "OCTETS", "PID"};
  std::vector<std::vector<std::string>> rows = {header};
  for (const SessionInfo& s : in_order(sessions)) {
    const std::string since = local_time(s.since, true);
    rows.push_back({s.user.empty() ? "-" : log_escape(s.user, kEscapedUserMax),
                    address_text(s.client), state_name(s), since.empty() ? "?" : since,
                    std::to_string(s.octets_sent), std::to_string(s.pid)});
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string sessions_json(const std::vector<SessionInfo>& sessions) {
  std::string out = "[";
  bool first = true;
  for (const SessionInfo& s : in_order(sessions)) {
    const std::string since = local_time(s.since, false);
    out += first ? "\n" : ",\n";
    first = false;
    out += "  {\"user\": " + (s.logged_in ? json_string(s.user) : std::string("null"));
    out += ", \"client\": " + json_string(address_text(s.client));
    out += ", \"state\": " + json_string(state_name(s));
    out += ", \"since\": " + (since.empty() ? std::string("null") : json_string(since));
    out += ", \"since_epoch\": " + std::to_string(s.since);
    out += ", \"octets_sent\": " + std::to_string(s.octets_sent);
    out += ", \"pid\": " + std::to_string(s.pid) + "}";
  }
  return out + (first ? "]\n" : "\n]\n");
}

int show_sessions(const Settings& settings, bool json, std::ostream& out, std::ostream& err) {
  auto table = open_table(settings);
  if (!table) {
    err << "pop3d: " << table.error().message << "\n";
    return 1;
  }
  auto sessions = table->snapshot(kLockWait);
  if (!sessions) {
    err << "pop3d: " << sessions.error().message << "\n";
    return 1;
  }
  out << (json ? sessions_json(*sessions) : sessions_text(*sessions));
  return 0;
}

int kick_sessions(const Settings& settings, const std::string& user, std::ostream& out,
                  std::ostream& err) {
  const std::string path = connection_table_path(settings);
  auto table = ConnectionTable::open(path);
  if (!table) {
    err << "pop3d: " << table.error().message << "\n";
    return 1;
  }
  // The table's owner is the service user, whose processes the workers are.
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) {
    err << "pop3d: cannot stat " << path << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  auto marked = table->request_kick(user, kLockWait);
  if (!marked) {
    err << "pop3d: " << marked.error().message << "\n";
    return 1;
  }
  std::vector<pid_t> signalled;
  for (const pid_t pid : *marked) {
    if (pid <= 1 || pid == ::getpid() || !runs_as(pid, st.st_uid)) continue;
    if (::kill(pid, kEvictionSignal) == 0) signalled.push_back(pid);
  }
  // The sessions end at their next wait on the client: look until they
  // have gone, so that the count says what happened, not what was asked.
  std::vector<pid_t> left = signalled;
  const auto deadline = std::chrono::steady_clock::now() + kKickWait;
  while (!left.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kKickPoll);
    auto now_left = still_running(*table, user, signalled);
    if (!now_left) break;
    left = std::move(*now_left);
  }
  const size_t ended = signalled.size() - left.size();
  const std::string shown = log_escape(user, kEscapedUserMax);
  out << "ended " << ended << (ended == 1 ? " session" : " sessions") << " of " << shown << "\n";
  if (!left.empty()) {
    err << "pop3d: " << left.size() << " more of " << shown
        << "'s sessions were asked to end and are still running\n";
  }
  return ended > 0 ? 0 : 1;
}

}  // namespace pop3d
