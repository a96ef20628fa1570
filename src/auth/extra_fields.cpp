#include "auth/extra_fields.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <vector>

#include "auth/mail_location.hpp"
#include "auth/user_db.hpp"
#include "log/logger.hpp"

namespace pop3d {

namespace {

// Dovecot passdb fields that narrow who may log in, or send the client
// elsewhere. Ignoring one would let in someone the old server kept out.
constexpr std::string_view kRestricting[] = {
    "allow_real_nets", "deny",        "fail",           "proxy",          "proxy_maybe", "host",
    "destuser",        "delay_until", "noauthenticate", "userdb_nologin",
};

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 254) return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return c > ' ' && c != 0x7f && c != ':'; });
}

template <typename Id>
std::optional<Id> parse_id(std::string_view s) {
  unsigned long long value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() ||
      value >= static_cast<unsigned long long>(std::numeric_limits<Id>::max())) {
    return std::nullopt;
  }
  return static_cast<Id>(value);
}

// Dovecot's "maildir:PATH[:OPTIONS]" in auth.mail_location's terms: the
// format prefix goes, "~" becomes %h. nullopt for other mailbox formats.
std::optional<std::string> maildir_template(std::string_view value) {
  const size_t colon = value.find(':');
  if (colon != std::string_view::npos &&
      value.substr(0, colon).find('/') == std::string_view::npos) {
    const std::string_view format = value.substr(0, colon);
    if (format != "maildir") return std::nullopt;
    value.remove_prefix(colon + 1);
  }
  std::string out;
  if (value == "~" || value.starts_with("~/")) {
    out = "%h";
    value.remove_prefix(1);
  }
  out.append(value);
  return out;
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, kMaxNologinReasonBytes)) {
    out.push_back(c >= ' ' && c < 0x7f ? static_cast<char>(c) : '?');
  }
  return out;
}

AuthOutcome refused(AuthOutcome outcome, AuthStatus status, std::string reason) {
  outcome.status = status;
  outcome.reason = std::move(reason);
  outcome.user = UserRecord{};
  return outcome;
}

}  // namespace

ExtraFields parse_extra_fields(std::string_view text,
                               const std::function<void(const std::string&)>& note) {
  ExtraFields f;
  auto block = [&](const std::string& why) {
    if (f.blocked.empty()) f.blocked = why;
    note(why);
  };
  while (!text.empty()) {
    const size_t start = text.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const size_t end = text.find_first_of(" \t");
    const std::string_view field = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end);
    const size_t eq = field.find('=');
    const std::string_view key = field.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : field.substr(eq + 1);
    const std::string shown = log_escape(key, 64);

    if (key == "nologin") {
      f.nologin = true;
    } else if (key == "reason") {
      f.reason = printable(value);
    } else if (key == "allow_nets") {
      std::vector<std::string> nets;
      bool any = false;
      std::string_view rest = value;
      while (!rest.empty() || !any) {
        const size_t comma = rest.find(',');
        const std::string_view net = rest.substr(0, comma);
        any = true;
        // "local" is Dovecot's word for connections without an address;
        // pop3d has none, so it matches nothing here.
        if (!net.empty() && net != "local") nets.emplace_back(net);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      Result<IpList> list = IpList::parse(nets);
      if (!list) {
        block("allow_nets cannot be parsed (" + log_escape(list.error().message, 100) + ")");
      } else {
        // An empty list lets nobody in, as in Dovecot.
        f.allow_nets = std::move(*list);
      }
    } else if (key == "user") {
      if (!valid_name(value)) {
        block("user= is not a valid user name");
      } else {
        f.canonical_name = std::string(value);
      }
    } else if (key == "userdb_home") {
      if (!value.starts_with('/')) {
        block("userdb_home is not an absolute path");
      } else {
        f.home = std::string(value);
      }
    } else if (key == "userdb_mail") {
      std::optional<std::string> location = maildir_template(value);
      if (!location || location->empty()) {
        block("userdb_mail is not a Maildir location (pop3d reads Maildir only)");
      } else {
        f.mail_location = std::move(*location);
      }
    } else if (key == "userdb_uid" || key == "userdb_gid") {
      const bool is_uid = key == "userdb_uid";
      if (is_uid) {
        f.uid = parse_id<uid_t>(value);
      } else {
        f.gid = parse_id<gid_t>(value);
      }
      if (is_uid ? !f.uid : !f.gid) {
        block(shown + " is not a number (names are not resolved)");
      }
    } else if (std::find(std::begin(kRestricting), std::end(kRestricting), key) !=
               std::end(kRestricting)) {
      block("field " + shown + " restricts access and pop3d does not implement it");
    } else {
      note("field " + shown + " is not used by pop3d; ignored");
    }
  }
  return f;
}

AuthOutcome apply_extra_fields(AuthOutcome outcome, std::string_view client_address) {
  if (outcome.status != AuthStatus::kOk || !outcome.user.extra) return outcome;
  const std::shared_ptr<const ExtraFields> f = outcome.user.extra;
  if (!f->blocked.empty()) {
    return refused(std::move(outcome), AuthStatus::kBadPassword, "blocked: " + f->blocked);
  }
  // Before nologin: from a refused address the reason is not told either.
  if (f->allow_nets && !f->allow_nets->contains(std::string(client_address))) {
    return refused(std::move(outcome), AuthStatus::kBadPassword,
                   "client address not in allow_nets");
  }
  if (f->nologin) {
    AuthOutcome r = refused(std::move(outcome), AuthStatus::kBadPassword, "nologin");
    if (!f->reason.empty()) r.client_message = "[AUTH] " + f->reason;
    return r;
  }
  return apply_userdb_fields(std::move(outcome));
}

AuthOutcome apply_userdb_fields(AuthOutcome outcome) {
  if (outcome.status != AuthStatus::kOk || !outcome.user.extra) return outcome;
  const std::shared_ptr<const ExtraFields> f = outcome.user.extra;
  // pop3d reads a virtual user's mail as the process it runs as; serving a
  // user Dovecot served under another uid would read mail under the wrong
  // identity, or fail halfway.
  if (f->uid && *f->uid != ::geteuid()) {
    return refused(std::move(outcome), AuthStatus::kTempFail,
                   "userdb_uid=" + std::to_string(*f->uid) + " but pop3d reads mail as uid " +
                       std::to_string(::geteuid()) + "; it cannot switch uid per virtual user");
  }
  if (f->gid && *f->gid != ::getegid()) {
    return refused(std::move(outcome), AuthStatus::kTempFail,
                   "userdb_gid=" + std::to_string(*f->gid) + " but pop3d reads mail as gid " +
                       std::to_string(::getegid()) + "; it cannot switch gid per virtual user");
  }
  if (f->uid) outcome.user.uid = *f->uid;
  if (f->gid) outcome.user.gid = *f->gid;
  if (!f->mail_location.empty()) {
    Result<std::string> maildir =
        expand_mail_location(f->mail_location, outcome.user.name, outcome.user.home);
    if (!maildir) {
      return refused(
          std::move(outcome), AuthStatus::kTempFail,
          "userdb_mail for " + log_escape(outcome.user.name) + ": " + maildir.error().message);
    }
    outcome.user.maildir = std::move(maildir).value();
  }
  return outcome;
}

}  // namespace pop3d
