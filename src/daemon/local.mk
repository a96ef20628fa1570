# src/daemon: the process model: master, pre-forked workers, signals, pid
# file, privilege drop, daemonizing, and the per-process Service.
src_libpop3d_a_SOURCES += \
	src/daemon/signals.hpp src/daemon/signals.cpp \
	src/daemon/privileges.hpp src/daemon/privileges.cpp \
	src/daemon/pid_file.hpp src/daemon/pid_file.cpp \
	src/daemon/daemonize.hpp src/daemon/daemonize.cpp \
	src/daemon/service.hpp src/daemon/service.cpp \
	src/daemon/client_origin.hpp src/daemon/client_origin.cpp \
	src/daemon/worker.hpp src/daemon/worker.cpp \
	src/daemon/master.hpp src/daemon/master.cpp \
	src/daemon/systemd_notify.hpp src/daemon/systemd_notify.cpp
tests_unit_tests_SOURCES += tests/daemon/daemon_test.cpp
