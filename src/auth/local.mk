# src/auth: who may log in (UserDb) and the passwd-file implementation:
# password schemes, the file parser, the mail location template.
src_libpop3d_a_SOURCES += src/auth/user_db.hpp \
	src/auth/secret_string.hpp \
	src/auth/crypt_scratch.hpp \
	src/auth/dummy_hash.hpp src/auth/dummy_hash.cpp \
	src/auth/password_scheme.hpp src/auth/password_scheme.cpp \
	src/auth/mail_location.hpp src/auth/mail_location.cpp \
	src/auth/extra_fields.hpp src/auth/extra_fields.cpp \
	src/auth/passwd_file.hpp src/auth/passwd_file.cpp \
	src/auth/login_cache.hpp src/auth/login_cache.cpp \
	src/auth/passwd_file_users.hpp src/auth/passwd_file_users.cpp \
	src/auth/system_users.hpp src/auth/system_users.cpp
tests_unit_tests_SOURCES += tests/auth/auth_test_support.hpp \
	tests/auth/password_scheme_test.cpp \
	tests/auth/mail_location_test.cpp \
	tests/auth/passwd_file_test.cpp \
	tests/auth/passwd_file_users_test.cpp \
	tests/auth/login_cache_test.cpp \
	tests/auth/dummy_hash_test.cpp
