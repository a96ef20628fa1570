# src/util: small vocabulary types shared by every part (Result, UniqueFd).
src_libpop3d_a_SOURCES += src/util/result.hpp src/util/result.cpp src/util/unique_fd.hpp src/util/shared_mapping.hpp src/util/robust_mutex.hpp src/util/child_exit.hpp src/util/child_exit.cpp \
	src/util/siphash.hpp src/util/siphash.cpp \
	src/util/crc32c.hpp src/util/crc32c.cpp \
	src/util/base64.hpp src/util/base64.cpp \
	src/util/hex.hpp src/util/hex.cpp \
	src/util/child_process.hpp src/util/child_process.cpp \
	src/util/small_file.hpp src/util/small_file.cpp \
	src/util/proc_title.hpp src/util/proc_title.cpp \
	src/util/table_file.hpp src/util/table_file.cpp
tests_unit_tests_SOURCES += tests/util/result_test.cpp tests/util/siphash_test.cpp tests/util/proc_title_test.cpp
