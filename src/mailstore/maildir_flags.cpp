#include "mailstore/maildir_flags.hpp"

#include "mailstore/maildir_name.hpp"

namespace pop3d {

namespace {

constexpr std::string_view kInfoSuffix = ":2,";

// The flags after the info suffix; empty when there is none. The split is
// maildir_base_name's, so the base name (the message's identity, and its
// UIDL) is what a flag change keeps.
std::string_view flags_of(std::string_view file_name) {
  const std::string_view base = maildir_base_name(file_name);
  if (base.size() == file_name.size()) return {};
  return file_name.substr(base.size() + kInfoSuffix.size());
}

}  // namespace

bool maildir_has_flag(std::string_view file_name, char flag) {
  return flags_of(file_name).find(flag) != std::string_view::npos;
}

std::string maildir_name_with_flag(std::string_view file_name, char flag) {
  const std::string_view base = maildir_base_name(file_name);
  if (base.size() == file_name.size())
    return std::string(file_name) + std::string(kInfoSuffix) + flag;
  const std::string_view flags = flags_of(file_name);
  if (flags.find(flag) != std::string_view::npos) return std::string(file_name);
  // Before the first flag that sorts after it: in a name whose flags are
  // in order (all writers keep them so) that is its place, and a name
  // whose flags are not keeps their order otherwise.
  size_t at = 0;
  while (at < flags.size() &&
         static_cast<unsigned char>(flags[at]) < static_cast<unsigned char>(flag))
    ++at;
  std::string out;
  out.reserve(file_name.size() + 1);
  out.append(base).append(kInfoSuffix).append(flags.substr(0, at)).push_back(flag);
  out.append(flags.substr(at));
  return out;
}

std::string maildir_cur_name(std::string_view file_name) {
  if (maildir_base_name(file_name).size() != file_name.size()) return std::string(file_name);
  return std::string(file_name) + std::string(kInfoSuffix);
}

}  // namespace pop3d
