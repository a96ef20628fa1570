# src/mailstore: the MailStore interface and its Maildir implementation
# (snapshot, flock lock, size index, UIDLs).
src_libpop3d_a_SOURCES += \
	src/mailstore/mail_store.hpp \
	src/mailstore/crlf_size.hpp src/mailstore/crlf_size.cpp \
	src/mailstore/maildir_name.hpp src/mailstore/maildir_name.cpp \
	src/mailstore/maildir_flags.hpp src/mailstore/maildir_flags.cpp \
	src/mailstore/maildir_quota.hpp src/mailstore/maildir_quota.cpp \
	src/mailstore/maildrop_lock.hpp src/mailstore/maildrop_lock.cpp \
	src/mailstore/maildir_index.hpp src/mailstore/maildir_index.cpp \
	src/mailstore/maildir_folders.hpp src/mailstore/maildir_folders.cpp \
	src/mailstore/maildir_maildrop.hpp \
	src/mailstore/maildir_snapshot.cpp src/mailstore/maildir_commit.cpp \
	src/mailstore/maildir_store.hpp src/mailstore/maildir_store.cpp \
	src/mailstore/leased_mail_store.hpp src/mailstore/leased_mail_store.cpp \
	src/mailstore/shared_storage.hpp src/mailstore/shared_storage.cpp \
	src/mailstore/uidl_format.hpp src/mailstore/uidl_format.cpp \
	src/mailstore/dovecot_dotlock.hpp src/mailstore/dovecot_dotlock.cpp \
	src/mailstore/dovecot_uidlist.hpp src/mailstore/dovecot_uidlist.cpp \
	src/mailstore/courier_uids.hpp src/mailstore/courier_uids.cpp \
	src/mailstore/uid_source.hpp src/mailstore/uid_source.cpp
tests_unit_tests_SOURCES += \
	tests/mailstore/maildir_test_util.hpp tests/mailstore/uid_source_test_util.hpp \
	tests/mailstore/crlf_size_test.cpp \
	tests/mailstore/maildir_name_test.cpp \
	tests/mailstore/maildir_flags_test.cpp \
	tests/mailstore/maildir_quota_test.cpp \
	tests/mailstore/maildir_index_test.cpp \
	tests/mailstore/maildir_store_test.cpp \
	tests/mailstore/maildir_resize_test.cpp \
	tests/mailstore/uidl_format_test.cpp \
	tests/mailstore/dovecot_uidlist_test.cpp \
	tests/mailstore/maildrop_lock_test.cpp \
	tests/mailstore/courier_uids_test.cpp \
	tests/mailstore/maildir_uid_source_test.cpp
