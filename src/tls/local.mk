# src/tls: TLS contexts (certificates, protocol policy, SNI, shared tickets)
# and the TLS transport used for STLS and the implicit-TLS port.
src_libpop3d_a_SOURCES += \
	src/tls/tls_context.hpp src/tls/tls_context.cpp \
	src/tls/tls_transport.hpp src/tls/tls_transport.cpp
tests_unit_tests_SOURCES += tests/tls/tls_test.cpp tests/tls/tls_legacy_test.cpp
