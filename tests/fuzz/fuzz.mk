# Builds the libFuzzer targets with clang++ (the project's own build uses
# g++, which has no libFuzzer). Called by tests/fuzz/build with
# SRCDIR (the source tree) and OUT (where objects and binaries go).
CXX = clang++
SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
CXXFLAGS = -std=c++20 -O1 -g $(SAN) -fsanitize=fuzzer-no-link \
	-I$(SRCDIR)/src -I$(SRCDIR)/tests/fuzz -MMD -MP
LIBS = -lssl -lcrypto -lconfig++ -lboost_program_options -lcrypt -lpam -largon2

# Only the parts the targets exercise: nothing here forks, binds or drops
# privileges.
LIB_SRCS := $(wildcard $(SRCDIR)/src/util/*.cpp $(SRCDIR)/src/log/*.cpp \
	$(SRCDIR)/src/config/*.cpp $(SRCDIR)/src/security/ip_list.cpp \
	$(SRCDIR)/src/auth/passwd_file.cpp $(SRCDIR)/src/auth/password_scheme.cpp \
	$(SRCDIR)/src/mailstore/maildir_name.cpp $(SRCDIR)/src/mailstore/maildir_index.cpp \
	$(SRCDIR)/src/mailstore/maildir_store.cpp $(SRCDIR)/src/mailstore/maildrop_lock.cpp \
	$(SRCDIR)/src/mailstore/maildir_folders.cpp $(SRCDIR)/src/mailstore/maildir_snapshot.cpp \
	$(SRCDIR)/src/mailstore/maildir_commit.cpp $(SRCDIR)/src/mailstore/shared_storage.cpp \
	$(SRCDIR)/src/mailstore/crlf_size.cpp $(SRCDIR)/src/mailstore/maildir_flags.cpp \
	$(SRCDIR)/src/mailstore/maildir_quota.cpp \
	$(SRCDIR)/src/mailstore/uidl_format.cpp $(SRCDIR)/src/mailstore/dovecot_uidlist.cpp \
	$(SRCDIR)/src/mailstore/dovecot_dotlock.cpp \
	$(SRCDIR)/src/mailstore/courier_uids.cpp \
	$(SRCDIR)/src/mailstore/uid_source.cpp \
	$(SRCDIR)/src/pop3/*.cpp $(SRCDIR)/src/privsep/protocol.cpp \
	$(SRCDIR)/src/auth/system_users.cpp $(SRCDIR)/src/auth/dummy_hash.cpp \
	$(SRCDIR)/src/auth/mail_location.cpp $(SRCDIR)/src/auth/extra_fields.cpp \
	$(SRCDIR)/src/net/proxy_header.cpp $(SRCDIR)/src/net/socket_address.cpp \
	$(SRCDIR)/src/stats/http_request.cpp $(SRCDIR)/src/stats/exposition.cpp \
	$(SRCDIR)/src/stats/metrics_table.cpp $(SRCDIR)/src/stats/session_metrics.cpp)
LIB_OBJS := $(patsubst $(SRCDIR)/%.cpp,$(OUT)/obj/%.o,$(LIB_SRCS))
TARGETS := $(patsubst $(SRCDIR)/tests/fuzz/%.cpp,%,$(wildcard $(SRCDIR)/tests/fuzz/fuzz_*.cpp))

all: $(addprefix $(OUT)/,$(TARGETS))

$(OUT)/obj/%.o: $(SRCDIR)/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(OUT)/libpop3d-fuzz.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(OUT)/fuzz_%: $(OUT)/obj/tests/fuzz/fuzz_%.o $(OUT)/libpop3d-fuzz.a
	$(CXX) $(SAN) -fsanitize=fuzzer $^ $(LIBS) -o $@

-include $(LIB_OBJS:.o=.d) $(patsubst %,$(OUT)/obj/tests/fuzz/%.d,$(TARGETS))
.PHONY: all
.SECONDARY:
