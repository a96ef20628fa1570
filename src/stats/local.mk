# src/stats: the Prometheus metrics: counters the workers add to in shared
# memory, their exposition, and the small HTTP server of the stats process.
src_libpop3d_a_SOURCES += src/stats/http_request.hpp src/stats/http_request.cpp \
	src/stats/metrics_table.hpp src/stats/metrics_table.cpp \
	src/stats/exposition.hpp src/stats/exposition.cpp \
	src/stats/stats_server.hpp src/stats/stats_server.cpp \
	src/stats/stats_process.hpp src/stats/stats_process.cpp \
	src/stats/session_metrics.hpp src/stats/session_metrics.cpp \
	src/stats/tls_metrics.hpp src/stats/tls_metrics.cpp \
	src/stats/table_gauges.hpp src/stats/table_gauges.cpp
tests_unit_tests_SOURCES += tests/stats/http_request_test.cpp \
	tests/stats/metrics_table_test.cpp \
	tests/stats/exposition_test.cpp \
	tests/stats/stats_server_test.cpp \
	tests/stats/session_metrics_test.cpp
