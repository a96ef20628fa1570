# src/net: listening sockets, bind-address resolution, the socket Transport,
# the PROXY protocol header.
src_libpop3d_a_SOURCES += src/net/transport.hpp \
	src/net/socket_address.hpp src/net/socket_address.cpp \
	src/net/listener.hpp src/net/listener.cpp \
	src/net/socket_transport.hpp src/net/socket_transport.cpp \
	src/net/proxy_header.hpp src/net/proxy_header.cpp \
	src/net/proxy_reader.hpp src/net/proxy_reader.cpp
tests_unit_tests_SOURCES += tests/net/listener_test.cpp \
	tests/net/proxy_header_test.cpp tests/net/proxy_reader_test.cpp
