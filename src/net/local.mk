# src/net: listening sockets, bind-address resolution, the socket Transport.
src_libpop3d_a_SOURCES += src/net/transport.hpp \
	src/net/socket_address.hpp src/net/socket_address.cpp \
	src/net/listener.hpp src/net/listener.cpp \
	src/net/socket_transport.hpp src/net/socket_transport.cpp
tests_unit_tests_SOURCES += tests/net/listener_test.cpp
