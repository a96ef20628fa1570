// Every limit the POP3 session enforces, each with the reason it has the
// value it has. A client controls what it sends; these bound what one
// connection can cost a worker whatever it sends.
#pragma once

#include <cstddef>

namespace pop3d::pop3_limits {

// RFC 2449 4: a command line is at most 255 octets including the CRLF.
inline constexpr size_t kMaxCommandLine = 255;

// RFC 5034 4: a SASL response line may exceed the 255-octet command limit
// (base64 of PLAIN credentials with long names); 8 KiB is far above any
// sane credential and still a fixed cost per connection.
inline constexpr size_t kMaxSaslLine = 8 * 1024;

// Input buffer: the longest line we accept plus room for pipelined commands
// that arrive behind it in the same packet.
inline constexpr size_t kInputBuffer = kMaxSaslLine + 4 * 1024;

// Dovecot ends a session after 20 bad commands in a row: a client that
// keeps sending garbage is broken or probing, not a mail reader.
inline constexpr int kMaxBadCommands = 20;

// Replies are gathered and written when this much is pending, so a LIST of
// a big maildrop or pipelined commands cost few writes but bounded memory.
inline constexpr size_t kOutputFlushThreshold = 64 * 1024;

// RETR/TOP read the message file in chunks of this size: large enough for
// few system calls, small enough that a huge message costs fixed memory.
inline constexpr size_t kRetrChunk = 128 * 1024;

// RETR of a message stored in its wire form (CRLF, no line starting with
// ".") uses sendfile from this size on: below it, the encoded copy gathered
// with the "+OK" line into one write costs fewer system calls than
// "+OK", sendfile and ".".
inline constexpr size_t kSendfileMinBytes = 64 * 1024;

// User names longer than this are refused before they reach the user
// database; no real mailbox name (user@domain) comes close.
inline constexpr size_t kMaxUserName = 128;

// Largest number accepted where a message number or line count is expected;
// beyond this it is garbage (and parsing it must not overflow).
inline constexpr unsigned long kMaxNumber = 4'000'000'000UL;

// RFC 1939 7: a unique-id is 1 to 70 characters in 0x21-0x7E. The one
// definition for the store that makes UIDLs, the privsep protocol that
// carries them and the session that sends them.
inline constexpr size_t kMaxUidlLength = 70;

// Random bytes in the APOP timestamp, so the challenge cannot be predicted.
inline constexpr size_t kApopRandomBytes = 8;

}  // namespace pop3d::pop3_limits
