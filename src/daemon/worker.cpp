#include "daemon/worker.hpp"

#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/client_origin.hpp"
#include "daemon/privileges.hpp"
#include "daemon/signals.hpp"
#include "log/logger.hpp"
#include "mailstore/leased_mail_store.hpp"
#include "net/socket_transport.hpp"
#include "pop3/session.hpp"
#include "privsep/client.hpp"
#include "security/access_control.hpp"
#include "security/connection_table.hpp"
#include "sharedstate/connection_counts.hpp"
#include "stats/session_metrics.hpp"
#include "stats/tls_metrics.hpp"
#include "tls/tls_transport.hpp"
#include "util/proc_title.hpp"
#include "util/unique_fd.hpp"

namespace pop3d {

namespace {

// A refused client gets its one line within this time, or nothing.
constexpr std::chrono::seconds kRefusalWriteTimeout{1};
// On the implicit-TLS port a client turned away for capacity gets its line
// inside TLS, so that it shows "server busy" rather than a TLS error. The
// handshake is work done for a client that gets no service, so it is held
// far below pop3.login_timeout: a modern client finishes it in one round
// trip, and this worker has no slot meanwhile.
constexpr std::chrono::seconds kRefusalHandshakeTimeout{2};

// What a session that has not logged in gets when a newcomer takes its
// slot (a full table, see ConnectionTable::admit_or_evict). SYS/TEMP: the
// client may retry, and an ordinary one will get in.
constexpr char kEvictedReply[] = "-ERR [SYS/TEMP] Server busy, try again later.\r\n";
// A newcomer asks at most this many victims in turn (each may have logged
// in meanwhile, or not answer) before it is refused after all.
constexpr int kMaxEvictionAttempts = 3;
// A victim answers from its next wait on the client, which is at once
// unless it is checking a password or sleeping through auth.failure_delay
// with the signal blocked: the newcomer waits that long and this much more.
constexpr std::chrono::seconds kHandoverSlack{1};
// How often a newcomer looks whether its victim has yielded: the first
// looks come quickly (a victim blocked in a read answers in microseconds),
// later ones less often.
constexpr std::chrono::milliseconds kHandoverFirstPoll{1};
constexpr std::chrono::milliseconds kHandoverMaxPoll{16};

// The table the eviction check looks at; set for the session in progress
// (the check is a plain function, called from the transports' waits).
ConnectionTable* g_connections = nullptr;
// The session's wait interrupt, whose farewell a kick takes away.
WaitInterrupt* g_session_interrupt = nullptr;
// Set when the session in progress was ended by `pop3d --kick`.
bool g_kicked = false;

// Asked when the eviction signal interrupts a wait on the client. The flag
// only says "look": the table says whether the administrator asked this
// session to end (pop3d --kick), or a newcomer still waits for its slot,
// and the session stays when it has logged in.
bool evicted_now() {
  SignalFlags& flags = signal_flags();
  if (!flags.evict || g_connections == nullptr) return false;
  flags.evict = 0;
  if (g_connections->kick_requested(::getpid())) {
    // As a dropped connection: nothing more goes to the client (a line now
    // could land in the middle of a message), and nothing is committed.
    g_kicked = true;
    if (g_session_interrupt != nullptr) g_session_interrupt->farewell = {};
    return true;
  }
  return g_connections->yield_if_asked(::getpid()) == Yield::kYielded;
}

// The victim's pid comes from the shared table, which any worker can write:
// never signal pid <= 1 (-1 would reach every process we may signal, 0 our
// process group), the master or ourselves. Workers run as the service user,
// so the kernel refuses a signal to a root process (the privsep helper)
// anyway; what remains reachable is other workers, which a subverted
// worker could signal directly.
bool tell_to_yield(pid_t victim) {
  if (victim <= 1 || victim == ::getppid() || victim == ::getpid()) return false;
  return ::kill(victim, kEvictionSignal) == 0;
}

// Admission with eviction: when the table is full, asks a session that has
// not logged in to yield its slot, and waits (bounded) until it has. The
// client is greeted only once the slot is this worker's, so the sessions
// served never pass pop3.max_connections. `max_per_address` is 0 when the
// cluster has counted the address already (see ConnectionCounts).
Admission admit_newcomer(ConnectionTable& table, const Settings& settings, const IpKey& key,
                         size_t max_per_address, const std::string& client) {
  const pid_t self = ::getpid();
  const auto handover_timeout = settings.auth.failure_delay + kHandoverSlack;
  std::vector<pid_t> spare;  // asked, and did not answer in time
  for (int attempt = 0; attempt < kMaxEvictionAttempts; ++attempt) {
    const AdmitResult r = table.admit_or_evict(
        self, key, static_cast<size_t>(settings.pop3.max_connections), max_per_address,
        settings.general.anti_hammering.ipv6_prefix, ConnectionTable::now_ns(), spare);
    if (r.admission != Admission::kEvicting) return r.admission;
    Handover state = Handover::kPending;
    if (tell_to_yield(r.victim)) {
      const auto deadline = std::chrono::steady_clock::now() + handover_timeout;
      auto pause = kHandoverFirstPoll;
      while ((state = table.handover_state(self, r.slot)) == Handover::kPending &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, kHandoverMaxPoll);
      }
    }
    if (state == Handover::kPending) {
      state = table.cancel_handover(self, r.slot);
      if (state != Handover::kDone) spare.push_back(r.victim);
    }
    if (state == Handover::kDone) {
      log_notice("evicting: client=" + client + " takes the slot of worker " +
                 std::to_string(r.victim) + ", whose client had not logged in");
      return Admission::kAdmitted;
    }
  }
  return Admission::kTooManyConnections;
}

// The session's policy as the worker gives it: the access-control one,
// plus the connection slot marked once the client has logged in, so that
// it is never given to a newcomer, and the process title saying who; the
// user and the octets sent go into the slot for `pop3d --who`.
class SlotMarkingPolicy : public SessionPolicy {
 public:
  SlotMarkingPolicy(SessionPolicy& inner, ConnectionTable& table, std::string client,
                    bool verbose_title)
      : inner_(inner),
        table_(table),
        client_(std::move(client)),
        verbose_title_(verbose_title),
        slot_(table.slot_of(::getpid())) {}
  bool client_blocked() override { return inner_.client_blocked(); }
  void login_failed() override { inner_.login_failed(); }
  void login_succeeded() override { inner_.login_succeeded(); }
  void logged_in(const std::string& user) override {
    table_.mark_logged_in(::getpid(), user);
    set_proc_title(
        worker_title({WorkerActivity::State::kTransaction, user, client_}, verbose_title_));
    inner_.logged_in(user);
  }
  void sent(size_t octets) override {
    octets_ += octets;
    // Once the session was told to end it may have yielded its slot to a
    // newcomer, whose figure this is not.
    if (!session_ended_from_outside()) table_.record_octets_sent(slot_, octets_);
  }

 private:
  SessionPolicy& inner_;
  ConnectionTable& table_;
  std::string client_;
  bool verbose_title_;
  const size_t slot_;  // the session's slot from admission on
  uint64_t octets_ = 0;
};

// Ends the eviction watch with the session, however it ends.
class EvictionWatch {
 public:
  explicit EvictionWatch(ConnectionTable& table) {
    interrupt_.mask = eviction_wait_mask();
    interrupt_.session_must_end = evicted_now;
    interrupt_.farewell = kEvictedReply;
    interrupt_.farewell_timeout = kRefusalWriteTimeout;
    g_connections = &table;
    g_session_interrupt = &interrupt_;
    g_kicked = false;
    set_wait_interrupt(&interrupt_);
  }
  EvictionWatch(const EvictionWatch&) = delete;
  EvictionWatch& operator=(const EvictionWatch&) = delete;
  ~EvictionWatch() {
    set_wait_interrupt(nullptr);
    g_connections = nullptr;
    g_session_interrupt = nullptr;
  }

 private:
  WaitInterrupt interrupt_{};
};

// Capacity refusals pass as the load does, so the client should retry
// soon; a blocked address is told nothing on the TLS port (see serve()).
bool is_capacity_refusal(Refusal r) {
  return r == Refusal::kTooManyConnections || r == Refusal::kTooManyFromAddress;
}

// The refusal line over TLS, after a handshake bounded by
// kRefusalHandshakeTimeout; nothing when the handshake fails.
void refuse_over_tls(const TlsContext& tls, UniqueFd fd, Refusal refusal,
                     const std::string& client) {
  auto transport = TlsTransport::accept(tls, std::move(fd), kRefusalHandshakeTimeout);
  if (!transport) {
    log_info("tls: client=" + client + " refusal not delivered: " + transport.error().message);
    return;
  }
  (void)(*transport)->write_all(refusal_reply(refusal), kRefusalWriteTimeout);
}

std::string summary_line(const std::string& client, const SessionSummary& s,
                         std::chrono::steady_clock::duration took) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  return "session: client=" + client + " user=" + (s.user.empty() ? "-" : log_escape(s.user)) +
         " retrieved=" + std::to_string(s.retrieved) + "/" + std::to_string(s.retrieved_bytes) +
         " deleted=" + std::to_string(s.deleted) + "/" + std::to_string(s.deleted_bytes) +
         " duration=" + std::to_string(ms) + "ms end=" + log_escape(s.end);
}

void serve(const Service& service, AddressState& hammer_state, ConnectionCounts& connection_counts,
           MaildropLeases& leases, const Listener& listener, UniqueFd fd,
           const SocketAddress& peer) {
  const auto started = std::chrono::steady_clock::now();
  const Settings& settings = *service.settings;
  // Behind a proxy the client is who its header says; everything below
  // (blocks, limits, secure networks, the log) goes by that address.
  const ProxyRules proxy{settings.pop3.proxy_protocol, &service.proxy_trusted,
                         settings.pop3.proxy_timeout};
  const Result<ClientOrigin> origin = client_origin(fd.get(), peer, proxy);
  if (!origin) {
    log_notice("proxy: client=" + peer.ip() + " closed unanswered: " + origin.error().message);
    return;
  }
  const std::string client = origin->address.ip();
  if (origin->proxied) log_debug("proxy: client=" + client + " via=" + peer.ip());
  const std::chrono::milliseconds handshake_timeout = settings.pop3.login_timeout;
  const IpKey key = parse_ip_key(client).ok() ? *parse_ip_key(client) : IpKey{};
  const AntiHammerPolicy hammer = anti_hammer_policy(settings);
  const bool hammer_on = settings.pop3.anti_hammering;
  Refusal refusal =
      check_address(service.address_rules, key,
                    hammer_on && hammer_state.is_blocked(key, AntiHammerTable::now()));
  // A request to yield from before this session (one that lost a race) is
  // stale: only the table, from admission on, says whether to yield.
  signal_flags().evict = 0;
  // The cluster's count first: the node must not evict anyone for a
  // client the cluster then refuses.
  CountedSession address_count(&connection_counts);
  auto max_per_address = static_cast<size_t>(settings.general.max_connections_per_ip);
  if (refusal == Refusal::kNone) {
    switch (connection_counts.admit(key, max_per_address)) {
      case CountVerdict::kAdmitted:
        max_per_address = 0;
        break;
      case CountVerdict::kTooManyFromAddress:
        refusal = Refusal::kTooManyFromAddress;
        break;
      case CountVerdict::kCountHere:
        break;
    }
  }
  if (refusal == Refusal::kNone) {
    switch (admit_newcomer(service.shared->connections, settings, key, max_per_address, client)) {
      case Admission::kAdmitted:
      case Admission::kEvicting:  // not returned by admit_newcomer
        break;
      case Admission::kTooManyConnections:
        refusal = Refusal::kTooManyConnections;
        break;
      case Admission::kTooManyFromAddress:
        refusal = Refusal::kTooManyFromAddress;
        break;
    }
  }
  if (refusal != Refusal::kNone) {
    // One line and goodbye. On the TLS port a plain-text line would be
    // noise to the client; a blocked address is closed there without a
    // handshake, which would be work done for the very clients we refuse
    // to serve, while a client turned away for capacity is an ordinary
    // client at a busy moment and gets its line inside TLS.
    log_notice(std::string("refused: client=") + client + " reason=" + refusal_name(refusal));
    count_refusal(&service.shared->metrics, refusal);
    if (!listener.implicit_tls) {
      (void)SocketTransport(std::move(fd)).write_all(refusal_reply(refusal), kRefusalWriteTimeout);
    } else if (is_capacity_refusal(refusal) && service.tls) {
      refuse_over_tls(*service.tls, std::move(fd), refusal, client);
    }
    return;
  }
  ConnectionSlot slot(&service.shared->connections, ::getpid());
  set_proc_title(worker_title({WorkerActivity::State::kAuthorization, "", client},
                              settings.general.verbose_proctitle));
  if (service.privsep) {
    (void)service.privsep->client_start_session(fd.get(), origin->proxied ? client : "");
  }
  const EvictionWatch watch(service.shared->connections);
  std::unique_ptr<Transport> transport;
  if (listener.implicit_tls) {
    auto tls = TlsTransport::accept(*service.tls, std::move(fd), handshake_timeout);
    count_tls_handshake(&service.shared->metrics,
                        tls ? std::optional<std::string>((*tls)->protocol()) : std::nullopt);
    if (!tls) {
      if (session_ended_from_outside()) {
        SessionSummary evicted;
        evicted.end = "evicted";
        log_info(summary_line(client, evicted, std::chrono::steady_clock::now() - started));
        return;
      }
      log_notice("tls: client=" + client + " handshake failed: " + tls.error().message);
      return;
    }
    transport = std::move(*tls);
  } else {
    transport = std::make_unique<SocketTransport>(std::move(fd));
  }
  std::optional<StlsUpgrader> stls;
  // A client whose TLS ended at the proxy is inside TLS already: no STLS.
  if (settings.pop3.explicit_ssl && service.tls && !listener.implicit_tls &&
      !origin->tls_at_proxy) {
    stls.emplace(*service.tls, client, handshake_timeout);
  }
  std::optional<CountingTlsUpgrader> counted_stls;
  if (stls) counted_stls.emplace(*stls, &service.shared->metrics);
  SessionPolicy allow_all;
  std::optional<AntiHammerSessionPolicy> counting;
  if (hammer_on) counting.emplace(hammer_state, hammer, key, client);
  SlotMarkingPolicy policy(counting ? static_cast<SessionPolicy&>(*counting) : allow_all,
                           service.shared->connections, client, settings.general.verbose_proctitle);
  // The session needs a mutable UserDb/MailStore (caches, reload checks);
  // each worker process owns its copy after fork.
  LeasedMailStore store(*service.store, leases);
  SessionContext context{*service.settings,
                         *service.users,
                         store,
                         policy,
                         counted_stls ? &*counted_stls : nullptr,
                         client,
                         service.secure_networks.contains(client) || origin->tls_at_proxy,
                         service.hostname};
  context.metrics = &service.shared->metrics;
  SessionSummary summary = run_session(context, std::move(transport));
  if (session_ended_from_outside()) summary.end = g_kicked ? "kicked by administrator" : "evicted";
  slot.end();
  address_count.end();
  log_info(summary_line(client, summary, std::chrono::steady_clock::now() - started));
  count_session(&service.shared->metrics, summary, std::chrono::steady_clock::now() - started);
}

// Logs at most once a second (a descriptor shortage lasts) and pauses the
// accept loop for a moment, so that it does not spin on the same error.
void back_off_after_accept_failure(int err) {
  static std::chrono::steady_clock::time_point last_logged;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_logged >= std::chrono::seconds(1)) {
    last_logged = now;
    log_error(std::string("worker: cannot accept a connection: ") + std::strerror(err));
  }
  ::usleep(100 * 1000);
}

// True when a SIGTERM, SIGINT or SIGQUIT waits, blocked, for this worker.
bool stop_pending() {
  sigset_t pending;
  if (::sigpending(&pending) < 0) return false;
  return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1 ||
         sigismember(&pending, SIGQUIT) == 1;
}

}  // namespace

int run_worker(const Service& service, const std::vector<Listener>& listeners) {
  Logger::instance().set_role("worker");
  set_proc_title(worker_title({}, false));
  // A worker holds client passwords and mail in memory: no core dumps of it,
  // and no ptrace or /proc/PID/mem from other processes of the service user.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // This worker's own, made before it confines itself (the connection
  // counts' lease keeper is a thread, which it could not start after).
  // With Redis, the connections are made at first use.
  const WorkerSharedState shared_state = make_worker_shared_state(service);
  if (!shared_state.warning.empty()) log_error("worker: " + shared_state.warning);
  if (Status s = confine_process(); !s) {
    log_error("worker: cannot confine itself: " + s.error().message);
    return kWorkerExitFatalConfig;
  }
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) {
    log_error("worker: epoll_create1 failed");
    return kWorkerExitFatalConfig;
  }
  for (size_t i = 0; i < listeners.size(); ++i) {
    // EPOLLEXCLUSIVE: a new connection wakes one idle worker, not the whole
    // pool (no thundering herd with hundreds of workers).
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = i;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, listeners[i].fd.get(), &ev) < 0) {
      log_error("worker: cannot watch listener " + listeners[i].address.to_string());
      return kWorkerExitFatalConfig;
    }
  }
  if (service.privsep) service.privsep->count_checks_in(&service.shared->metrics);
  SignalFlags& flags = signal_flags();
  const sigset_t mask = wait_mask();
  constexpr int kMaxEvents = 8;
  epoll_event events[kMaxEvents];
  while (!flags.terminate && !flags.graceful) {
    // Signals are unblocked only while waiting here, so a SIGTERM during a
    // session lets the session finish and is seen right after.
    const int n = ::epoll_pwait(epoll.get(), events, kMaxEvents, -1, &mask);
    if (n < 0) {
      if (errno == EINTR) {
        // An idle worker lets go of a rotated log file now, not at its
        // next line (whose disk space stays taken until then).
        Logger::instance().reopen_if_requested();
        continue;
      }
      log_error("worker: epoll_pwait failed");
      return kWorkerExitOk;
    }
    for (int i = 0; i < n && !flags.terminate && !flags.graceful; ++i) {
      // epoll_pwait hands back ready events without running the handler of
      // a signal that was already pending (the kernel restores the mask
      // first): a SIGTERM that came during the last session (the master
      // died) would wait behind a busy listener for good. Look for it.
      if (stop_pending()) return kWorkerExitOk;
      const Listener& listener = listeners[events[i].data.u64];
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      UniqueFd fd(::accept4(listener.fd.get(), reinterpret_cast<sockaddr*>(&ss), &len,
                            SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd) {
        // Out of descriptors (or kernel memory), the connection stays queued
        // and epoll reports it again at once: say so, and back off instead
        // of spinning. Otherwise another worker took it, or the client left.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          back_off_after_accept_failure(errno);
        }
        continue;
      }
      // Replies go out as a few large writes (ResponseWriter) or sendfile,
      // and each ends with a small piece; Nagle would hold that piece back
      // until the peer's delayed ACK (40 ms), which a relay such as HAProxy
      // makes visible on every multi-line reply.
      const int one = 1;
      (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      serve(service, *shared_state.addresses, *shared_state.connections, *shared_state.leases,
            listener, std::move(fd), SocketAddress(reinterpret_cast<sockaddr*>(&ss), len));
      // What the session freed (a RETR buffer, a 20,000-message listing,
      // TLS records) would otherwise stay resident in this worker for good,
      // multiplied by the pool size: give the free pages back between
      // sessions, when nobody waits for it.
      ::malloc_trim(0);
      set_proc_title(worker_title({}, false));
    }
  }
  return kWorkerExitOk;
}

}  // namespace pop3d
