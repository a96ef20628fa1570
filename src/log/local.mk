# src/log: the process's log target (syslog, stderr or a file).
src_libpop3d_a_SOURCES += src/log/logger.hpp src/log/logger.cpp
tests_unit_tests_SOURCES += tests/log/logger_test.cpp
