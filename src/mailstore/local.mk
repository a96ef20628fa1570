# src/mailstore: see the header comments of its files for what this part does.
src_libpop3d_a_SOURCES +=
tests_unit_tests_SOURCES +=
