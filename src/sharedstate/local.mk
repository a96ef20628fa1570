# src/sharedstate: state every node of a cluster shares (anti-hammering,
# per-address connection counts), behind interfaces with a local and a
# Redis back-end. Only
# workers and the admin CLI talk to Redis; never the master.
src_libpop3d_a_SOURCES += \
	src/sharedstate/address_state.hpp src/sharedstate/local_address_state.cpp \
	src/sharedstate/redis_endpoint.hpp src/sharedstate/redis_endpoint.cpp \
	src/sharedstate/link_health.hpp src/sharedstate/link_health.cpp \
	src/sharedstate/redis_link.hpp src/sharedstate/redis_link.cpp \
	src/sharedstate/redis_address_state.hpp src/sharedstate/redis_address_state.cpp \
	src/sharedstate/connection_counts.hpp src/sharedstate/lease_keeper.hpp \
	src/sharedstate/lease_keeper.cpp src/sharedstate/redis_connection_counts.hpp \
	src/sharedstate/redis_connection_counts.cpp \
	src/sharedstate/redis_script.hpp src/sharedstate/redis_script.cpp \
	src/sharedstate/maildrop_leases.hpp src/sharedstate/redis_maildrop_leases.hpp \
	src/sharedstate/redis_maildrop_leases.cpp \
	src/sharedstate/shared_state_config.hpp src/sharedstate/shared_state_config.cpp
tests_unit_tests_SOURCES += tests/sharedstate/redis_server.hpp \
	tests/sharedstate/redis_endpoint_test.cpp \
	tests/sharedstate/redis_address_state_test.cpp \
	tests/sharedstate/redis_connection_counts_test.cpp \
	tests/sharedstate/redis_maildrop_leases_test.cpp
