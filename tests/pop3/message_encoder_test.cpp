#include <cppunit/extensions/HelperMacros.h>

#include <cstdint>
#include <random>
#include <string>

#include "pop3/message_encoder.hpp"

namespace pop3d {

namespace {

std::string encode_whole(const std::string& file, MessageEncoder e = MessageEncoder()) {
  std::string out;
  e.encode(file, out);
  e.finish(out);
  return out;
}

std::string encode_in_chunks(const std::string& file, size_t chunk,
                             MessageEncoder e = MessageEncoder()) {
  std::string out;
  for (size_t i = 0; i < file.size() && !e.done(); i += chunk) {
    e.encode(std::string_view(file).substr(i, chunk), out);
  }
  e.finish(out);
  return out;
}

uint64_t octets_of(const std::string& file) {
  MessageEncoder e;
  std::string out;
  e.encode(file, out);
  e.finish(out);
  return e.octets();
}

// Lines of a wire form (CRLF-separated, the final "." line left out) that
// start with a dot: on the wire each of them carries one stuffed dot.
uint64_t stuffed_lines(const std::string& wire) {
  uint64_t stuffed = 0;
  for (size_t start = 0; start + 3 < wire.size();) {
    if (wire[start] == '.') ++stuffed;
    const size_t crlf = wire.find("\r\n", start);
    if (crlf == std::string::npos) break;
    start = crlf + 2;
  }
  return stuffed;
}

}  // namespace

class MessageEncoderTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MessageEncoderTest);
  CPPUNIT_TEST(bare_lf_becomes_crlf_and_crlf_stays);
  CPPUNIT_TEST(lone_cr_passes_unchanged);
  CPPUNIT_TEST(lines_starting_with_dot_are_stuffed);
  CPPUNIT_TEST(missing_final_newline_gets_crlf);
  CPPUNIT_TEST(empty_message_is_only_the_terminator);
  CPPUNIT_TEST(eight_bit_and_nul_pass_unchanged);
  CPPUNIT_TEST(long_line_is_sent_whole);
  CPPUNIT_TEST(cr_and_lf_split_across_chunks_make_one_crlf);
  CPPUNIT_TEST(dot_after_chunk_boundary_is_stuffed);
  CPPUNIT_TEST(every_split_gives_the_same_output);
  CPPUNIT_TEST(octets_are_the_wire_form_without_stuffing);
  CPPUNIT_TEST(random_messages_encode_alike_in_any_chunking);
  CPPUNIT_TEST(top_zero_sends_header_and_blank_line);
  CPPUNIT_TEST(top_sends_requested_body_lines);
  CPPUNIT_TEST(top_with_more_lines_than_body_sends_all);
  CPPUNIT_TEST(top_without_blank_line_sends_whole_header);
  CPPUNIT_TEST(top_in_chunks_matches_whole);
  CPPUNIT_TEST_SUITE_END();

 public:
  void bare_lf_becomes_crlf_and_crlf_stays() {
    CPPUNIT_ASSERT_EQUAL(std::string("a\r\nb\r\nc\r\n.\r\n"), encode_whole("a\nb\r\nc\n"));
    CPPUNIT_ASSERT_EQUAL(std::string("\r\n\r\n.\r\n"), encode_whole("\n\r\n"));
  }

  void lone_cr_passes_unchanged() {
    CPPUNIT_ASSERT_EQUAL(std::string("a\rb\r\n.\r\n"), encode_whole("a\rb\n"));
    // A file ending in CR gets CRLF after it, as the size rule counts.
    CPPUNIT_ASSERT_EQUAL(std::string("abc\r\r\n.\r\n"), encode_whole("abc\r"));
    CPPUNIT_ASSERT_EQUAL(uint64_t{6}, octets_of("abc\r"));  // "abc\r" + CRLF
  }

  void lines_starting_with_dot_are_stuffed() {
    CPPUNIT_ASSERT_EQUAL(std::string("..a\r\nb.c\r\n..\r\n...x\r\n.\r\n"),
                         encode_whole(".a\nb.c\n.\r\n..x\n"));
    // A lone CR does not start a line; only LF does.
    CPPUNIT_ASSERT_EQUAL(std::string("a\r.b\r\n.\r\n"), encode_whole("a\r.b\n"));
  }

  void missing_final_newline_gets_crlf() {
    CPPUNIT_ASSERT_EQUAL(std::string("a\r\nlast\r\n.\r\n"), encode_whole("a\nlast"));
    CPPUNIT_ASSERT_EQUAL(std::string("..\r\n.\r\n"), encode_whole("."));
  }

  void empty_message_is_only_the_terminator() {
    MessageEncoder e;
    std::string out;
    e.finish(out);
    CPPUNIT_ASSERT_EQUAL(std::string(".\r\n"), out);
    CPPUNIT_ASSERT_EQUAL(uint64_t{0}, e.octets());
  }

  void eight_bit_and_nul_pass_unchanged() {
    const std::string file("\xff\xe4\0x\x80\n", 6);
    const std::string expected("\xff\xe4\0x\x80\r\n.\r\n", 10);
    CPPUNIT_ASSERT_EQUAL(expected, encode_whole(file));
  }

  void long_line_is_sent_whole() {
    const std::string line(100 * 1000, 'x');
    const std::string wire = encode_in_chunks(line + "\n", 4096);
    CPPUNIT_ASSERT_EQUAL(line + "\r\n.\r\n", wire);
  }

  void cr_and_lf_split_across_chunks_make_one_crlf() {
    MessageEncoder e;
    std::string out;
    e.encode("a\r", out);
    e.encode("\nb\n", out);
    e.finish(out);
    CPPUNIT_ASSERT_EQUAL(std::string("a\r\nb\r\n.\r\n"), out);
    CPPUNIT_ASSERT_EQUAL(uint64_t{6}, e.octets());
  }

  void dot_after_chunk_boundary_is_stuffed() {
    MessageEncoder e;
    std::string out;
    e.encode("a\n", out);
    e.encode(".b\n", out);
    e.encode("c", out);
    e.encode(".d\n", out);  // mid-line: no stuffing
    e.finish(out);
    CPPUNIT_ASSERT_EQUAL(std::string("a\r\n..b\r\nc.d\r\n.\r\n"), out);
  }

  void every_split_gives_the_same_output() {
    const std::string file = ".x\r\n\n.\r\r\n..\nab\rc\n\r\n.end";
    // Line by line: ".x" CRLF, "" LF, ".\r" CRLF, ".." LF, "ab\rc" LF, ""
    // CRLF, ".end" with none; dots stuffed. Octets without the stuffing:
    // 4 + 2 + 4 + 4 + 6 + 2 + 6 = 28.
    const std::string whole = "..x\r\n\r\n..\r\r\n...\r\nab\rc\r\n\r\n..end\r\n.\r\n";
    constexpr uint64_t kOctets = 28;
    CPPUNIT_ASSERT_EQUAL(whole, encode_whole(file));
    for (size_t i = 0; i <= file.size(); ++i) {
      for (size_t j = i; j <= file.size(); ++j) {
        MessageEncoder e;
        std::string out;
        e.encode(std::string_view(file).substr(0, i), out);
        e.encode(std::string_view(file).substr(i, j - i), out);
        e.encode(std::string_view(file).substr(j), out);
        e.finish(out);
        CPPUNIT_ASSERT_EQUAL(whole, out);
        CPPUNIT_ASSERT_EQUAL(kOctets, e.octets());
      }
    }
  }

  // Wire forms and octet counts worked out by hand (RFC 1939 3: CRLF line
  // ends, dot-stuffing, a CRLF for an unterminated last line), not by a
  // second copy of the mail store's rule.
  void octets_are_the_wire_form_without_stuffing() {
    struct Case {
      std::string file;
      std::string wire;
      uint64_t octets;
    };
    const Case cases[] = {
        {"", ".\r\n", 0},
        {"\n", "\r\n.\r\n", 2},
        {"\r\n", "\r\n.\r\n", 2},
        {"x", "x\r\n.\r\n", 3},
        {"a\nb", "a\r\nb\r\n.\r\n", 6},
        {"a\r\nb\r\n", "a\r\nb\r\n.\r\n", 6},
        {".\n..\n", "..\r\n...\r\n.\r\n", 7},  // "." + CRLF, ".." + CRLF
        {"\r", "\r\r\n.\r\n", 3},
        {"\n\n\r\r\n", "\r\n\r\n\r\r\n.\r\n", 7},
        {std::string("a\0b\n", 4), std::string("a\0b\r\n.\r\n", 8), 5},
    };
    for (const Case& c : cases) {
      MessageEncoder e;
      std::string out;
      e.encode(c.file, out);
      e.finish(out);
      CPPUNIT_ASSERT_EQUAL(c.wire, out);
      CPPUNIT_ASSERT_EQUAL(c.octets, e.octets());
    }
  }

  // Random files, where no answer is known in advance: what must hold is
  // that chunking changes nothing, the wire form has only CRLF line ends
  // and one final "." line, and the octets are the wire form less its
  // stuffed dots and the final ".\r\n".
  void random_messages_encode_alike_in_any_chunking() {
    std::mt19937 rng(1939);
    const char alphabet[] = {'a', '.', '\r', '\n', '\0', '\xff', ' '};
    for (int round = 0; round < 300; ++round) {
      std::string file(rng() % 200, 'a');
      for (char& c : file) c = alphabet[rng() % sizeof alphabet];
      MessageEncoder whole_encoder;
      std::string whole;
      whole_encoder.encode(file, whole);
      whole_encoder.finish(whole);
      MessageEncoder chunked_encoder;
      std::string chunked;
      const size_t chunk = 1 + rng() % 7;
      for (size_t i = 0; i < file.size(); i += chunk)
        chunked_encoder.encode(std::string_view(file).substr(i, chunk), chunked);
      chunked_encoder.finish(chunked);
      CPPUNIT_ASSERT_EQUAL(whole, chunked);
      CPPUNIT_ASSERT_EQUAL(whole_encoder.octets(), chunked_encoder.octets());
      for (size_t i = 0; i < whole.size(); ++i) {
        if (whole[i] == '\n') CPPUNIT_ASSERT(i > 0 && whole[i - 1] == '\r');
      }
      CPPUNIT_ASSERT(whole.size() >= 3 && whole.compare(whole.size() - 3, 3, ".\r\n") == 0);
      // The reply never ends early: its only "." line is the last.
      CPPUNIT_ASSERT(whole.find("\r\n.\r\n") == std::string::npos ||
                     whole.find("\r\n.\r\n") == whole.size() - 5);
      CPPUNIT_ASSERT_EQUAL(whole.size() - 3 - stuffed_lines(whole), whole_encoder.octets());
    }
  }

  void top_zero_sends_header_and_blank_line() {
    const std::string msg = "From: a\nSubject: b\n\nbody 1\nbody 2\n";
    CPPUNIT_ASSERT_EQUAL(std::string("From: a\r\nSubject: b\r\n\r\n.\r\n"),
                         encode_whole(msg, MessageEncoder::for_top(0)));
  }

  void top_sends_requested_body_lines() {
    const std::string msg = "From: a\r\n\r\n.one\r\ntwo\r\nthree\r\n";
    MessageEncoder e = MessageEncoder::for_top(2);
    const std::string wire = encode_whole(msg, e);
    CPPUNIT_ASSERT_EQUAL(std::string("From: a\r\n\r\n..one\r\ntwo\r\n.\r\n"), wire);
  }

  void top_with_more_lines_than_body_sends_all() {
    const std::string msg = "H: v\n\nonly line";
    CPPUNIT_ASSERT_EQUAL(std::string("H: v\r\n\r\nonly line\r\n.\r\n"),
                         encode_whole(msg, MessageEncoder::for_top(10)));
  }

  void top_without_blank_line_sends_whole_header() {
    const std::string msg = "H: v\nX: y\n";
    CPPUNIT_ASSERT_EQUAL(std::string("H: v\r\nX: y\r\n.\r\n"),
                         encode_whole(msg, MessageEncoder::for_top(0)));
  }

  void top_in_chunks_matches_whole() {
    const std::string msg = "A: 1\r\nB: 2\n\r\nx\ny\r\nz\n";
    for (uint64_t k = 0; k < 5; ++k) {
      const std::string whole = encode_whole(msg, MessageEncoder::for_top(k));
      for (size_t chunk = 1; chunk < 8; ++chunk) {
        CPPUNIT_ASSERT_EQUAL(whole, encode_in_chunks(msg, chunk, MessageEncoder::for_top(k)));
      }
    }
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MessageEncoderTest);

}  // namespace pop3d
