#include "stats/metrics_table.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <new>

namespace pop3d {

namespace {

using Counter = std::atomic<uint64_t>;
// Atomics in memory shared between processes work only when they are
// lock-free: a lock would live in one process's address space.
static_assert(Counter::is_always_lock_free);

struct HistogramCells {
  Counter buckets[kHistogramBuckets + 1];
  Counter sum_micros;
};

constexpr auto kRelaxed = std::memory_order_relaxed;

template <class E>
size_t index(E e) {
  // Callers pass enum values; a value out of range (a cast from garbage)
  // lands in the last real cell instead of outside the array.
  const auto i = static_cast<size_t>(e);
  return i < count_of<E>() ? i : count_of<E>() - 1;
}

}  // namespace

struct MetricsTable::Layout {
  Counter sessions[count_of<SessionEnd>()];
  Counter logins[count_of<LoginMethod>()][count_of<LoginResult>()];
  Counter tls[count_of<TlsResult>()][count_of<TlsVersion>()];
  Counter retrieved_messages;
  Counter retrieved_octets;
  Counter deleted_messages;
  Counter refusals[count_of<RefusalReason>()];
  Counter helper_checks[count_of<HelperCheckResult>()];
  HistogramCells histograms[count_of<HistogramKind>()];
  // Written by the master alone (publish_pool).
  Counter pool_max_sessions;
  Counter pool_workers;
  Counter pool_anti_hammering;
};

SessionEnd session_end_from_summary(std::string_view end) {
  if (end == "quit") return SessionEnd::kQuit;
  if (end == "timeout") return SessionEnd::kTimeout;
  if (end == "disconnect") return SessionEnd::kDisconnect;
  if (end == "too many errors") return SessionEnd::kTooManyErrors;
  if (end == "blocked") return SessionEnd::kBlocked;
  if (end == "evicted") return SessionEnd::kEvicted;
  if (end == "kicked by administrator") return SessionEnd::kKicked;
  if (end == "tls failed") return SessionEnd::kTlsFailed;
  return SessionEnd::kError;
}

std::optional<LoginMethod> login_method_from_name(std::string_view mechanism) {
  if (mechanism == "USER") return LoginMethod::kUserPass;
  if (mechanism == "APOP") return LoginMethod::kApop;
  if (mechanism == "PLAIN") return LoginMethod::kAuthPlain;
  if (mechanism == "LOGIN") return LoginMethod::kAuthLogin;
  return std::nullopt;
}

TlsVersion tls_version_from_name(std::string_view name) {
  if (name == "TLSv1") return TlsVersion::kTls10;
  if (name == "TLSv1.1") return TlsVersion::kTls11;
  if (name == "TLSv1.2") return TlsVersion::kTls12;
  if (name == "TLSv1.3") return TlsVersion::kTls13;
  return TlsVersion::kUnknown;
}

const std::array<double, kHistogramBuckets>& histogram_bounds(HistogramKind kind) {
  return kind == HistogramKind::kLoginLatency ? kLoginLatencyBounds : kSessionDurationBounds;
}

Result<MetricsTable> MetricsTable::create() {
  const long page = ::sysconf(_SC_PAGESIZE);
  const size_t unit = page > 0 ? static_cast<size_t>(page) : 4096;
  const size_t size = (sizeof(Layout) + unit - 1) / unit * unit;
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return Error::from_errno("mmap of the metrics table");
  SharedMapping mapping(base, size);
  Layout* cells = mapping.array_at<Layout>(0, 1);
  if (cells == nullptr) return Error{"the metrics table does not fit its mapping"};
  // The mapping is all zero; constructing the atomics in it makes them
  // objects of their type, all zero still.
  cells = new (cells) Layout{};
  return MetricsTable(std::move(mapping), cells, static_cast<int64_t>(std::time(nullptr)));
}

void MetricsTable::count_session(SessionEnd end) {
  layout_->sessions[index(end)].fetch_add(1, kRelaxed);
}

void MetricsTable::count_login(LoginMethod method, LoginResult result) {
  layout_->logins[index(method)][index(result)].fetch_add(1, kRelaxed);
}

void MetricsTable::count_tls_handshake(TlsResult result, TlsVersion version) {
  layout_->tls[index(result)][index(version)].fetch_add(1, kRelaxed);
}

void MetricsTable::count_retrieved(uint64_t messages, uint64_t octets) {
  layout_->retrieved_messages.fetch_add(messages, kRelaxed);
  layout_->retrieved_octets.fetch_add(octets, kRelaxed);
}

void MetricsTable::count_deleted(uint64_t messages) {
  layout_->deleted_messages.fetch_add(messages, kRelaxed);
}

void MetricsTable::count_refusal(RefusalReason reason) {
  layout_->refusals[index(reason)].fetch_add(1, kRelaxed);
}

void MetricsTable::count_helper_check(HelperCheckResult result) {
  layout_->helper_checks[index(result)].fetch_add(1, kRelaxed);
}

void MetricsTable::observe(HistogramKind kind, std::chrono::steady_clock::duration took) {
  const double seconds = std::chrono::duration<double>(took).count();
  const auto& bounds = histogram_bounds(kind);
  size_t bucket = 0;
  while (bucket < bounds.size() && seconds > bounds[bucket]) ++bucket;
  HistogramCells& h = layout_->histograms[index(kind)];
  h.buckets[bucket].fetch_add(1, kRelaxed);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
  h.sum_micros.fetch_add(micros > 0 ? static_cast<uint64_t>(micros) : 0, kRelaxed);
}

void MetricsTable::publish_pool(const PoolShape& pool) {
  layout_->pool_max_sessions.store(pool.max_sessions, kRelaxed);
  layout_->pool_workers.store(pool.workers, kRelaxed);
  layout_->pool_anti_hammering.store(pool.anti_hammering ? 1 : 0, kRelaxed);
}

PoolShape MetricsTable::pool(uint64_t max_workers) const {
  PoolShape p;
  p.workers = std::min(layout_->pool_workers.load(kRelaxed), max_workers);
  p.max_sessions = std::min(layout_->pool_max_sessions.load(kRelaxed), p.workers);
  p.anti_hammering = layout_->pool_anti_hammering.load(kRelaxed) != 0;
  return p;
}

MetricsSnapshot MetricsTable::snapshot() const {
  MetricsSnapshot s;
  const Layout& l = *layout_;
  for (size_t i = 0; i < s.sessions.size(); ++i) s.sessions[i] = l.sessions[i].load(kRelaxed);
  for (size_t m = 0; m < s.logins.size(); ++m) {
    for (size_t r = 0; r < s.logins[m].size(); ++r) s.logins[m][r] = l.logins[m][r].load(kRelaxed);
  }
  for (size_t r = 0; r < s.tls.size(); ++r) {
    for (size_t v = 0; v < s.tls[r].size(); ++v) s.tls[r][v] = l.tls[r][v].load(kRelaxed);
  }
  s.retrieved_messages = l.retrieved_messages.load(kRelaxed);
  s.retrieved_octets = l.retrieved_octets.load(kRelaxed);
  s.deleted_messages = l.deleted_messages.load(kRelaxed);
  for (size_t i = 0; i < s.refusals.size(); ++i) s.refusals[i] = l.refusals[i].load(kRelaxed);
  for (size_t i = 0; i < s.helper_checks.size(); ++i) {
    s.helper_checks[i] = l.helper_checks[i].load(kRelaxed);
  }
  for (size_t k = 0; k < s.histograms.size(); ++k) {
    for (size_t b = 0; b < s.histograms[k].buckets.size(); ++b) {
      s.histograms[k].buckets[b] = l.histograms[k].buckets[b].load(kRelaxed);
    }
    s.histograms[k].sum_micros = l.histograms[k].sum_micros.load(kRelaxed);
  }
  return s;
}

}  // namespace pop3d
