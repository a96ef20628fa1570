# src/config: the settings table and everything generated from it (config
# file loader, command line, --help, sample config, --print-config, man page).
src_libpop3d_a_SOURCES += src/config/settings.hpp src/config/config.hpp \
	src/config/settings_table.hpp src/config/settings_table.cpp \
	src/config/config_loader.cpp src/config/command_line_options.hpp \
	src/config/command_line.cpp src/config/config_text.cpp \
	src/config/include_check.hpp src/config/include_check.cpp
tests_unit_tests_SOURCES += tests/config/config_test.cpp tests/config/config_text_test.cpp \
	tests/config/include_check_test.cpp tests/config/relative_paths_test.cpp
