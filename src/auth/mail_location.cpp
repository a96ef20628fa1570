#include "auth/mail_location.hpp"

namespace pop3d {

namespace {

// A piece of the login name must stay one path component, whatever the
// passwd file holds.
bool safe_component(std::string_view s) {
  return s != "." && s != ".." && s.find('/') == std::string_view::npos &&
         s.find('\0') == std::string_view::npos;
}

}  // namespace

Result<std::string> expand_mail_location(std::string_view location_template, std::string_view user,
                                         std::string_view home) {
  const size_t at = user.find('@');
  const std::string_view local = user.substr(0, at);
  const std::string_view domain =
      at == std::string_view::npos ? std::string_view{} : user.substr(at + 1);

  std::string out;
  out.reserve(location_template.size() + user.size() + home.size());
  for (size_t i = 0; i < location_template.size(); ++i) {
    const char c = location_template[i];
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (i + 1 == location_template.size()) {
      return Error{"mail_location ends with a lone '%'", 0};
    }
    const char code = location_template[++i];
    std::string_view piece;
    switch (code) {
      case '%':
        out.push_back('%');
        continue;
      case 'u':
        piece = user;
        break;
      case 'n':
        piece = local;
        break;
      case 'd':
        piece = domain;
        break;
      case 'h':
        if (home.empty()) return Error{"mail_location uses %h but the user has no home", 0};
        out.append(home);
        continue;
      default:
        return Error{std::string("mail_location has an unknown escape %") + code, 0};
    }
    if (!safe_component(piece)) {
      return Error{std::string("mail_location: %") + code + " would not be a safe path component",
                   0};
    }
    out.append(piece);
  }

  if (out.empty()) return Error{"mail_location expands to an empty path", 0};
  if (out.front() == '/') return out;
  if (home.empty() || home.front() != '/') {
    return Error{"mail_location is relative and the user has no absolute home", 0};
  }
  std::string absolute(home);
  if (absolute.back() != '/') absolute.push_back('/');
  return absolute + out;
}

namespace {

// The option that starts at `pos` (just after a ':'), if it is one.
bool option_at(std::string_view s, size_t pos) {
  size_t i = pos;
  while (i < s.size() && ((s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_')) ++i;
  return i > pos && i < s.size() && s[i] == '=';
}

size_t next_option(std::string_view s, size_t from) {
  for (size_t i = s.find(':', from); i != std::string_view::npos; i = s.find(':', i + 1)) {
    if (option_at(s, i + 1)) return i;
  }
  return std::string_view::npos;
}

}  // namespace

Result<MaildirPaths> split_maildir_options(std::string_view location, std::string_view home) {
  MaildirPaths out;
  size_t colon = next_option(location, 0);
  out.maildir = std::string(location.substr(0, colon));
  while (colon != std::string_view::npos) {
    const size_t start = colon + 1;
    colon = next_option(location, start);
    const std::string_view opt = location.substr(
        start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
    if (!opt.starts_with("CONTROL=")) continue;
    std::string_view value = opt.substr(8);
    if (value.empty()) return Error{"mail_location: CONTROL= is empty", 0};
    const bool from_home = value == "~" || value.starts_with("~/") || value.front() != '/';
    if (from_home && (home.empty() || home.front() != '/')) {
      return Error{
          "mail_location: CONTROL= is relative to the home and the user has no absolute home", 0};
    }
    std::string dir;
    if (value == "~" || value.starts_with("~/")) {
      value.remove_prefix(1);
      dir = std::string(home) + std::string(value);
    } else if (value.front() == '/') {
      dir = std::string(value);
    } else {
      dir = std::string(home) + "/" + std::string(value);
    }
    out.control_dir = std::move(dir);
  }
  if (out.maildir.empty()) return Error{"mail_location: no Maildir path before the options", 0};
  if (out.control_dir.empty()) out.control_dir = out.maildir;
  return out;
}

}  // namespace pop3d
