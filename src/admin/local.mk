# src/admin: the administrator's one-shot commands that look at a user's
# mail (--print-uidls) or at the running daemon's sessions (--who, --kick),
# kept apart from the daemon's processes.
src_libpop3d_a_SOURCES += \
	src/admin/print_uidls.hpp src/admin/print_uidls.cpp \
	src/admin/who.hpp src/admin/who.cpp
