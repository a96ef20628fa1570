# src/pop3: the POP3 protocol (RFC 1939, 2449, 5034): line reader, command
# parser, response writer, message encoder and the session state machine.
src_libpop3d_a_SOURCES += src/pop3/session.hpp src/pop3/session.cpp src/pop3/limits.hpp
tests_unit_tests_SOURCES +=
