// Fakes of everything a session talks to besides the transport: a user
// database with plaintext secrets (so APOP digests can be checked), a mail
// store that serves messages from memory files, a policy that counts what
// it is told, and a TLS upgrader that hands over a second memory pipe.
#pragma once

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mailstore/crlf_size.hpp"
#include "memory_transport.hpp"
#include "pop3/session.hpp"

namespace pop3d {

inline std::string md5_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

class FakeUserDb : public UserDb {
 public:
  std::map<std::string, std::string> passwords{{"alice", "wonderland"}, {"mrose", "tanstaaf"}};
  std::string temp_fail_user = "broken";
  bool apop = false;
  std::vector<std::string> asked;  // user names passed to authenticate*

  AuthOutcome authenticate(std::string_view user, std::string_view password) override {
    asked.emplace_back(user);
    return check(user, [&](const std::string& secret) { return secret == password; });
  }

  AuthOutcome authenticate_apop(std::string_view user, std::string_view timestamp,
                                std::string_view digest) override {
    asked.emplace_back(user);
    return check(user, [&](const std::string& secret) {
      return md5_hex(std::string(timestamp) + secret) == digest;
    });
  }

  bool apop_available() override { return apop; }

 private:
  template <typename Check>
  AuthOutcome check(std::string_view user, Check matches) {
    AuthOutcome out;
    if (user == temp_fail_user) {
      out.status = AuthStatus::kTempFail;
      out.reason = "database unreadable";
      return out;
    }
    auto it = passwords.find(std::string(user));
    if (it == passwords.end()) {
      out.status = AuthStatus::kUnknownUser;
      out.reason = "unknown user";
    } else if (!matches(it->second)) {
      out.status = AuthStatus::kBadPassword;
      out.reason = "password mismatch";
    } else {
      out.status = AuthStatus::kOk;
      out.user.name = it->first;
      out.user.home = "/home/" + it->first;
    }
    return out;
  }
};

struct FakeMessage {
  std::string content;
  std::string uidl;
  bool vanished = false;    // open_message fails, as if deleted meanwhile
  bool unreadable = false;  // opens, but read() fails (EISDIR)
  bool plain = false;       // MessageInfo::plain_sendable: may go out by sendfile
  // MessageInfo::size: the octets RETR sends (every line ending CRLF, a
  // last line without one gets it; dot-stuffing not counted), worked out by
  // hand in each test rather than by a formula, so a mistake in the mail
  // store's rule cannot hide behind the same mistake here. SessionHarness
  // refuses messages without it; only the fuzz target, which checks no
  // sizes, leaves it out and gets the mail store's own count.
  std::optional<uint64_t> size = std::nullopt;
};

// What the session did to the maildrop, kept after the maildrop is gone.
struct MaildropRecord {
  int opened = 0;
  int commits = 0;
  std::vector<bool> committed;
  bool fail_commit = false;
};

class FakeMaildrop : public Maildrop {
 public:
  FakeMaildrop(std::vector<FakeMessage> messages, std::shared_ptr<MaildropRecord> record)
      : messages_(std::move(messages)), record_(std::move(record)) {
    for (const FakeMessage& m : messages_)
      infos_.push_back({m.size ? *m.size : store_size(m.content), m.uidl, m.plain});
  }

  size_t count() const override { return messages_.size(); }
  const MessageInfo& info(size_t index) const override { return infos_.at(index); }

  Result<UniqueFd> open_message(size_t index) override {
    const FakeMessage& m = messages_.at(index);
    if (m.vanished) return Error{"message file vanished", ENOENT};
    if (m.unreadable) return UniqueFd(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    UniqueFd fd(::memfd_create("message", MFD_CLOEXEC));
    if (!fd) return Error::from_errno("memfd_create");
    const std::string& c = m.content;
    if (::write(fd.get(), c.data(), c.size()) != static_cast<ssize_t>(c.size())) {
      return Error::from_errno("write");
    }
    ::lseek(fd.get(), 0, SEEK_SET);
    return fd;
  }

  Result<CommitStats> commit(const std::vector<bool>& deleted) override {
    ++record_->commits;
    record_->committed = deleted;
    if (record_->fail_commit) return Error{"rename failed", EIO};
    CommitStats stats;
    for (size_t i = 0; i < deleted.size(); ++i) {
      if (!deleted[i]) continue;
      ++stats.deleted;
      stats.deleted_bytes += infos_[i].size;
    }
    return stats;
  }

 private:
  static uint64_t store_size(const std::string& content) {
    CrlfCounter counter;
    counter.feed(content.data(), content.size());
    return counter.size();
  }

  std::vector<FakeMessage> messages_;
  std::vector<MessageInfo> infos_;
  std::shared_ptr<MaildropRecord> record_;
};

class FakeMailStore : public MailStore {
 public:
  std::vector<FakeMessage> messages{
      // 56 bytes in six LF-ended lines; each LF goes out as CRLF: 56 + 6.
      {.content = "From: a@example.org\nSubject: one\n\nHello\n.hidden dot\nbye\n",
       .uidl = "uid-one",
       .size = 62},
      // Already CRLF throughout: "Subject: two" 12+2, "" 2, "second body" 11+2.
      {.content = "Subject: two\r\n\r\nsecond body\r\n", .uidl = "uid-two", .size = 29},
  };
  OpenStatus status = OpenStatus::kOk;
  std::shared_ptr<MaildropRecord> record = std::make_shared<MaildropRecord>();
  std::string opened_for;

  OpenOutcome open(const UserRecord& user) override {
    ++record->opened;
    opened_for = user.name;
    OpenOutcome out;
    out.status = status;
    out.reason = "fake";
    if (status == OpenStatus::kOk) out.maildrop = std::make_unique<FakeMaildrop>(messages, record);
    return out;
  }
};

// The hand-worked size of one of FakeMailStore's default messages, looked
// up by its text; throws for any other text. Kept for callers that name a
// message by its content (session_auth_test.cpp); FakeMessage::size is the
// same number.
inline uint64_t crlf_size(const std::string& content) {
  for (const FakeMessage& m : FakeMailStore().messages) {
    if (m.content == content && m.size) return *m.size;
  }
  throw std::logic_error("no hand-worked size for this message text");
}

class FakePolicy : public SessionPolicy {
 public:
  int checks = 0;
  int block_from_check = 0;  // 0: never; n: the nth check and later say blocked
  int failures = 0;
  int successes = 0;

  bool client_blocked() override {
    ++checks;
    return block_from_check > 0 && checks >= block_from_check;
  }
  void login_failed() override { ++failures; }
  void login_succeeded() override { ++successes; }
};

class FakeTls : public TlsUpgrader {
 public:
  std::shared_ptr<MemoryPipe> pipe = std::make_shared<MemoryPipe>();
  bool fail = false;
  int upgrades = 0;

  std::unique_ptr<Transport> upgrade(Transport& plain) override {
    ++upgrades;
    if (fail || plain.is_tls()) return nullptr;
    return std::make_unique<MemoryTransport>(pipe, true);
  }
};

}  // namespace pop3d
