// Dummy hashes: they imitate a model's cost, never its secret, and no
// password opens them.
#include <cppunit/extensions/HelperMacros.h>

#include <crypt.h>

#include <string>
#include <vector>

#include "auth/crypt_scratch.hpp"
#include "auth/dummy_hash.hpp"
#include "auth/password_scheme.hpp"
#include "auth/system_users.hpp"

namespace pop3d {

namespace {

constexpr long kToday = 20000;  // days since 1970: some day in 2024

// crypt(3) of `password` with a fixed setting, so the test knows the salt.
std::string crypt_with(const std::string& password, const std::string& setting) {
  CryptScratch scratch;
  const char* out = ::crypt_rn(password.c_str(), setting.c_str(), scratch.get(), scratch.size());
  CPPUNIT_ASSERT_MESSAGE("libcrypt refused " + setting, out != nullptr && out[0] != '*');
  return out;
}

// The salt field of a modular crypt string: between the cost prefix and
// the last '$'.
std::string salt_of(const std::string& hash) {
  const std::string prefix = crypt_cost_prefix(hash);
  return hash.substr(prefix.size(), hash.rfind('$') - prefix.size());
}

std::string body_of(std::string_view stored) {
  return std::string(parse_secret(stored).body);
}

// One account whose hash lives in shadow, as on a real host.
class OneAccount : public AccountSource {
 public:
  explicit OneAccount(std::string hash) : hash_(std::move(hash)) {}
  Lookup<SystemAccount> find_account(const std::string& name) override {
    Lookup<SystemAccount> out;
    out.status = name == "alice" ? LookupStatus::kFound : LookupStatus::kNotFound;
    if (name != "alice") return out;
    out.value.name = name;
    out.value.uid = 1000;
    out.value.gid = 1000;
    out.value.home = "/home/alice";
    out.value.passwd_field = SecretString("x");
    return out;
  }
  Lookup<ShadowEntry> find_shadow(const std::string& name) override {
    Lookup<ShadowEntry> out;
    out.status = name == "alice" ? LookupStatus::kFound : LookupStatus::kNotFound;
    out.value.hash = SecretString(hash_);
    out.value.last_change = 19000;
    out.value.max_age = 99999;
    return out;
  }

 private:
  std::string hash_;
};

}  // namespace

class DummyHashTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(DummyHashTest);
  CPPUNIT_TEST(cost_prefix_of_each_method);
  CPPUNIT_TEST(crypt_dummy_keeps_cost_prefix_not_salt);
  CPPUNIT_TEST(other_schemes_keep_their_scheme);
  CPPUNIT_TEST(default_dummy_is_a_real_crypt_hash);
  CPPUNIT_TEST(each_call_is_fresh);
  CPPUNIT_TEST(no_password_opens_a_dummy);
  CPPUNIT_TEST(system_users_keep_no_copy_of_a_real_hash);
  CPPUNIT_TEST_SUITE_END();

 public:
  void cost_prefix_of_each_method() {
    CPPUNIT_ASSERT_EQUAL(std::string("$6$rounds=6000$"),
                         crypt_cost_prefix("$6$rounds=6000$abcdefgh$hash"));
    CPPUNIT_ASSERT_EQUAL(std::string("$6$"), crypt_cost_prefix("{SHA512-CRYPT}$6$abcdefgh$hash"));
    CPPUNIT_ASSERT_EQUAL(std::string("$1$"), crypt_cost_prefix("$1$abcdefgh$hash"));
    CPPUNIT_ASSERT_EQUAL(std::string("$y$j9T$"), crypt_cost_prefix("$y$j9T$saltsalt$hash"));
    // bcrypt has no '$' between salt and hash.
    CPPUNIT_ASSERT_EQUAL(
        std::string("$2b$05$"),
        crypt_cost_prefix("$2b$05$abcdefghijklmnopqrstuu0123456789012345678901234567890"));
    CPPUNIT_ASSERT_EQUAL(std::string(), crypt_cost_prefix("{PLAIN}$6$rounds=6000$a$b"));
    CPPUNIT_ASSERT_EQUAL(std::string(), crypt_cost_prefix("abDEFGHIJKLMN"));  // DES
  }

  void crypt_dummy_keeps_cost_prefix_not_salt() {
    const std::vector<std::string> settings = {
        "$6$rounds=6000$SaltOfModel12345$", "$5$rounds=7000$SaltOfModel12345$",
        "$6$SaltOfModel12345$", "$1$SaltOfMo$", "$2b$05$SaltOfModelSaltOfModelO"};
    for (const std::string& setting : settings) {
      const std::string model = crypt_with("model password", setting);
      const SecretString dummy = make_dummy_hash("{CRYPT}" + model);
      const std::string body = body_of(dummy.view());
      CPPUNIT_ASSERT_MESSAGE(std::string(dummy.view()) + " for " + model,
                             body.starts_with(crypt_cost_prefix(model)));
      CPPUNIT_ASSERT_EQUAL(verification_cost_class(model), verification_cost_class(dummy.view()));
      CPPUNIT_ASSERT_MESSAGE(std::string(dummy.view()), body.find("SaltOfMo") == std::string::npos);
      CPPUNIT_ASSERT(!verify_password(dummy.view(), "model password"));
    }
    // The host's own default method (yescrypt on Debian), at a cost other
    // than its default, so a fallback to the default dummy would show.
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    CPPUNIT_ASSERT(::crypt_gensalt_rn(nullptr, 0, nullptr, 0, setting, sizeof setting) != nullptr);
    const std::string method(setting, std::string_view(setting).find('$', 1) + 1);
    for (const unsigned long cost : {3ul, 7ul}) {
      if (::crypt_gensalt_rn(method.c_str(), cost, nullptr, 0, setting, sizeof setting) ==
          nullptr) {
        continue;  // a method without a cost parameter: the default one above
      }
      const std::string model = crypt_with("model password", setting);
      const SecretString dummy = make_dummy_hash(model);
      const std::string body = body_of(dummy.view());
      CPPUNIT_ASSERT_MESSAGE(body + " for " + model, body.starts_with(crypt_cost_prefix(model)));
      CPPUNIT_ASSERT_EQUAL(salt_of(model).size(), salt_of(body).size());
      CPPUNIT_ASSERT(salt_of(body) != salt_of(model));
      CPPUNIT_ASSERT(!verify_password(dummy.view(), "model password"));
    }
  }

  void other_schemes_keep_their_scheme() {
    for (const char* scheme : {"PLAIN", "SHA256", "SSHA256", "SHA512", "SSHA512"}) {
      const std::string model = hash_password(scheme, "model password");
      const SecretString dummy = make_dummy_hash(model);
      CPPUNIT_ASSERT_MESSAGE(std::string(scheme) + ": " + std::string(dummy.view()),
                             parse_secret(dummy.view()).scheme == parse_secret(model).scheme);
      CPPUNIT_ASSERT(dummy.view() != model);
      CPPUNIT_ASSERT(!verify_password(dummy.view(), "model password"));
    }
  }

  void default_dummy_is_a_real_crypt_hash() {
    // Empty and unusable models fall back to the default class: a dummy
    // that cost nothing would tell unknown users apart.
    for (const std::string_view model :
         {std::string_view{}, std::string_view{"{NOPE}x"}, std::string_view{"{CRYPT}$9z$broken"}}) {
      const SecretString dummy = make_dummy_hash(model);
      CPPUNIT_ASSERT_MESSAGE(std::string(dummy.view()),
                             parse_secret(dummy.view()).scheme == PasswordScheme::kCrypt);
      CPPUNIT_ASSERT(!crypt_cost_prefix(dummy.view()).empty());
    }
    CPPUNIT_ASSERT(parse_secret(process_dummy_hash().view()).scheme == PasswordScheme::kCrypt);
    CPPUNIT_ASSERT_EQUAL(process_dummy_hash().view(), process_dummy_hash().view());
  }

  void each_call_is_fresh() {
    const std::string model = crypt_with("model password", "$6$rounds=6000$SaltOfModel12345$");
    const SecretString a = make_dummy_hash(model);
    const SecretString b = make_dummy_hash(model);
    CPPUNIT_ASSERT(a.view() != b.view());
    CPPUNIT_ASSERT(salt_of(body_of(a.view())) != salt_of(body_of(b.view())));
    const SecretString c = make_dummy_hash();
    const SecretString d = make_dummy_hash();
    CPPUNIT_ASSERT(c.view() != d.view());
    CPPUNIT_ASSERT(salt_of(body_of(c.view())) != salt_of(body_of(d.view())));
    const SecretString p = make_dummy_hash("{PLAIN}x");
    const SecretString q = make_dummy_hash("{PLAIN}x");
    CPPUNIT_ASSERT(p.view() != q.view());
  }

  void no_password_opens_a_dummy() {
    // Including the fixed phrases older versions hashed their dummies from.
    for (const SecretString& dummy :
         {make_dummy_hash(), make_dummy_hash("{PLAIN}secret"),
          make_dummy_hash(crypt_with("x", "$6$rounds=6000$SaltOfModel12345$"))}) {
      for (const char* guess :
           {"", "x", "secret", "pop3d dummy", "pop3d dummy password", "{PLAIN}", "*", "........"}) {
        CPPUNIT_ASSERT_MESSAGE(std::string(dummy.view()) + " opened by " + guess,
                               !verify_password(dummy.view(), guess));
      }
    }
  }

  void system_users_keep_no_copy_of_a_real_hash() {
    const std::string salt = "SaltOfAlice12345";
    const std::string stored = crypt_with("alice's secret", "$6$rounds=6000$" + salt + "$");
    OneAccount source(stored);
    SystemUsers users(source, "%h/Maildir", 1000);
    CPPUNIT_ASSERT(users.check("alice", "wrong", kToday).check == AccountCheck::kBadPassword);
    CPPUNIT_ASSERT(users.check("alice", "alice's secret", kToday).check == AccountCheck::kOk);
    CPPUNIT_ASSERT(users.check("nobody", "alice's secret", kToday).check ==
                   AccountCheck::kUnknownUser);

    const std::string dummy(users.dummy_hash_for_test());
    const std::string hash_part = stored.substr(stored.rfind('$') + 1);
    CPPUNIT_ASSERT(dummy != stored && dummy != "{CRYPT}" + stored);
    CPPUNIT_ASSERT_MESSAGE(dummy, dummy.find(salt) == std::string::npos);
    CPPUNIT_ASSERT_MESSAGE(dummy, dummy.find(hash_part) == std::string::npos);
    CPPUNIT_ASSERT(!verify_password(dummy, "alice's secret"));
    // It does follow her cost class, so unknown users cost what she does.
    CPPUNIT_ASSERT_EQUAL(verification_cost_class(stored), verification_cost_class(dummy));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DummyHashTest);

}  // namespace pop3d
