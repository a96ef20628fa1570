# src/mailstore: the MailStore interface and its Maildir implementation
# (snapshot, flock lock, size index, UIDLs).
src_libpop3d_a_SOURCES += \
	src/mailstore/mail_store.hpp \
	src/mailstore/crlf_size.hpp src/mailstore/crlf_size.cpp \
	src/mailstore/maildir_store.hpp src/mailstore/maildir_store.cpp
tests_unit_tests_SOURCES += \
	tests/mailstore/crlf_size_test.cpp
