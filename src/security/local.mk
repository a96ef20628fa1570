# src/security: access control: address lists (and, later, anti-hammering).
src_libpop3d_a_SOURCES += src/security/ip_list.hpp src/security/ip_list.cpp
tests_unit_tests_SOURCES += tests/security/ip_list_test.cpp
