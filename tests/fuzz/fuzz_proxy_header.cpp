// Fuzz target: the PROXY protocol header parser (net/proxy_header.hpp).
// proxy_header_length frames the input; when it names a whole header
// within it, parse_proxy_header parses exactly that prefix. The reader
// trusts the framing never to claim a byte past the header, so the
// framing's own promises are checked as well as the parsed fields.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>

#include "fuzz_common.hpp"
#include "net/proxy_header.hpp"

using namespace pop3d;

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

bool ip_family(int family) {
  return family == AF_INET || family == AF_INET6;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 2 * kProxyV2MaxLength) return 0;  // nothing longer can frame differently
  const std::string_view input = fuzz::as_text(data, size);
  Result<size_t> length = proxy_header_length(input);
  if (!length) {
    check(!parse_proxy_header(input).ok());
    return 0;
  }
  if (*length == 0 || *length > size) {
    // Not whole yet: no parse may succeed on what is there.
    check(!parse_proxy_header(input).ok());
    return 0;
  }
  const size_t total = *length;
  check(total <= kProxyV2MaxLength);
  if (input[0] == 'P') check(total <= kProxyV1MaxLength);
  // The length does not change as more bytes arrive, and one octet less
  // never claims more than it has.
  const std::string_view header = input.substr(0, total);
  Result<size_t> again = proxy_header_length(header);
  check(again.ok() && *again == total);
  Result<size_t> shorter = proxy_header_length(header.substr(0, total - 1));
  check(!shorter.ok() || *shorter == 0 || *shorter == total);
  if (size > total) check(!parse_proxy_header(input).ok());

  Result<ProxyHeader> parsed = parse_proxy_header(header);
  if (!parsed) {
    check(!parsed.error().message.empty() && parsed.error().message.size() < 200);
    return 0;
  }
  const ProxyHeader& h = *parsed;
  check(h.version == 1 || h.version == 2);
  if (!h.keeps_real_addresses) {
    check(ip_family(h.source.family()));
    check(h.destination.family() == h.source.family());
    (void)h.source.to_string();
    (void)h.destination.to_string();
  }
  if (h.version == 1) check(!h.client_tls && h.tls_version.empty());
  for (const char c : h.tls_version) check(c >= 0x20 && c < 0x7F);
  return 0;
}
