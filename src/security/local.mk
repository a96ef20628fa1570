# src/security: access control: address lists, the shared anti-hammering
# and connection tables, and the per-connection admission decisions.
src_libpop3d_a_SOURCES += src/security/ip_list.hpp src/security/ip_list.cpp \
	src/security/anti_hammer_table.hpp src/security/anti_hammer_table.cpp \
	src/security/connection_table.hpp src/security/connection_table.cpp \
	src/security/access_control.hpp src/security/access_control.cpp
tests_unit_tests_SOURCES += tests/security/ip_list_test.cpp \
	tests/security/anti_hammer_table_test.cpp \
	tests/security/access_control_test.cpp \
	tests/security/per_prefix_test.cpp \
	tests/security/anti_hammer_owner_test.cpp \
	tests/security/shared_table_safety_test.cpp \
	tests/security/connection_eviction_test.cpp \
	tests/security/connection_who_test.cpp
