# src/admin: the administrator's one-shot commands that look at a user's
# mail (--print-uidls), kept apart from the daemon's processes.
src_libpop3d_a_SOURCES += \
	src/admin/print_uidls.hpp src/admin/print_uidls.cpp
