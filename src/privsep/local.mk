# src/privsep: privilege separation for system users: the protocol, the
# privileged helper, the per-user mail agent and the worker's client side.
src_libpop3d_a_SOURCES += \
	src/privsep/protocol.hpp src/privsep/protocol.cpp \
	src/privsep/agent.hpp src/privsep/agent.cpp \
	src/privsep/helper.hpp src/privsep/helper.cpp \
	src/privsep/client.hpp src/privsep/client.cpp
tests_unit_tests_SOURCES += tests/privsep/protocol_test.cpp \
	tests/privsep/system_users_test.cpp \
	tests/privsep/helper_test.cpp \
	tests/privsep/helper_hostile_test.cpp
