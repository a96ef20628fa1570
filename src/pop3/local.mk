# src/pop3: the POP3 protocol (RFC 1939, 2449, 5034): line reader, command
# parser, response writer, message encoder and the session state machine.
src_libpop3d_a_SOURCES += \
	src/pop3/session.hpp src/pop3/session.cpp \
	src/pop3/pop3_session.hpp src/pop3/authorization.cpp src/pop3/transaction.cpp \
	src/pop3/limits.hpp src/pop3/log_fields.hpp \
	src/pop3/command.hpp src/pop3/command.cpp \
	src/pop3/line_reader.hpp src/pop3/line_reader.cpp \
	src/pop3/message_encoder.hpp src/pop3/message_encoder.cpp \
	src/pop3/response_writer.hpp src/pop3/response_writer.cpp
tests_unit_tests_SOURCES += \
	tests/pop3/memory_transport.hpp tests/pop3/session_fakes.hpp tests/pop3/session_harness.hpp \
	tests/pop3/command_test.cpp tests/pop3/line_reader_test.cpp \
	tests/pop3/message_encoder_test.cpp tests/pop3/session_auth_test.cpp \
	tests/pop3/session_mail_test.cpp tests/pop3/line_wipe_test.cpp \
	tests/pop3/retr_size_test.cpp
