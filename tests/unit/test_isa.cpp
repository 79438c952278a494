// The generated hardware contract: encode/decode round trips for every command, the C
// header agrees with the C++ encoder, malformed streams are refused, the disassembler
// names commands and fields.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "tessel_isa_commands.hpp"
#include "tessel_npu_isa.h"

namespace isa = tessel::isa;

extern "C" {
unsigned tessel_c_cmd_words(unsigned opcode);
unsigned tessel_c_conv_in_h(const uint32_t* words);
unsigned tessel_c_dma_dram_addr(const uint32_t* words);
unsigned tessel_c_perf_lo(unsigned i);
}

namespace {
const uint8_t kOpcodes[] = {TESSEL_OP_NOP,      TESSEL_OP_DMA_LOAD, TESSEL_OP_DMA_STORE,
                            TESSEL_OP_CONV,     TESSEL_OP_DWCONV,   TESSEL_OP_MATMUL,
                            TESSEL_OP_ELTWISE,  TESSEL_OP_POOL,     TESSEL_OP_LUT,
                            TESSEL_OP_RESIZE,   TESSEL_OP_MEAN,     TESSEL_OP_SEM_SIGNAL,
                            TESSEL_OP_SEM_WAIT, TESSEL_OP_FENCE,    TESSEL_OP_END};
}

TEST_CASE("every command round-trips bit for bit through decode and encode", "[isa]") {
  std::mt19937 rng(1);
  for (uint8_t op : kOpcodes) {
    const uint32_t n = tessel_c_cmd_words(op);
    REQUIRE(n >= 1);
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<uint32_t> w{TESSEL_CMD_HEADER(op, n)};
      for (uint32_t i = 1; i < n; ++i) w.push_back(rng());
      const isa::DecodeResult d = isa::decode(w.data(), w.size());
      REQUIRE(d.ok);
      REQUIRE(d.words == n);
      std::vector<uint32_t> again;
      isa::encode(d.command, again);
      REQUIRE(again == w);
      REQUIRE(isa::disassemble(d.command).rfind(isa::opcode_name(op), 0) == 0);
    }
  }
}

TEST_CASE("the C header and the C++ encoder agree on field placement", "[isa]") {
  isa::Conv c;
  c.in_h = 1234;
  std::vector<uint32_t> w;
  isa::encode(c, w);
  CHECK(w.size() == isa::Conv::kWords);
  CHECK(tessel_c_cmd_words(TESSEL_OP_CONV) == isa::Conv::kWords);
  CHECK(tessel_c_conv_in_h(w.data()) == 1234);
  isa::DmaLoad d;
  d.dram_addr = 0xDEADBEEF;
  w.clear();
  isa::encode(d, w);
  CHECK(tessel_c_dma_dram_addr(w.data()) == 0xDEADBEEF);
  CHECK(tessel_c_perf_lo(3) == 0x400 + 8 * 3);
  CHECK(tessel_c_cmd_words(0x77) == 0);
  // Signed fields sign-extend on decode.
  isa::Eltwise e;
  e.a_shift = -5;
  e.act_min = -128;
  w.clear();
  isa::encode(e, w);
  const auto r = isa::decode(w.data(), w.size());
  REQUIRE(r.ok);
  CHECK(std::get<isa::Eltwise>(r.command).a_shift == -5);
  CHECK(std::get<isa::Eltwise>(r.command).act_min == -128);
}

TEST_CASE("malformed commands are refused with a reason", "[isa]") {
  std::vector<uint32_t> w = {0x77u | 1u << 8};
  auto r = isa::decode(w.data(), w.size());
  CHECK_FALSE(r.ok);
  CHECK(r.error_code == static_cast<uint32_t>(isa::ErrorCode::kBadOpcode));
  CHECK(r.error.find("unknown opcode 119") != std::string::npos);

  w = {TESSEL_CMD_HEADER(TESSEL_OP_CONV, 3), 0, 0};
  r = isa::decode(w.data(), w.size());
  CHECK_FALSE(r.ok);
  CHECK(r.error_code == static_cast<uint32_t>(isa::ErrorCode::kBadLength));

  w = {TESSEL_CMD_HEADER(TESSEL_OP_CONV, TESSEL_CMD_CONV_WORDS), 0, 0};  // truncated
  r = isa::decode(w.data(), w.size());
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("buffer has 3") != std::string::npos);

  w = {TESSEL_CMD_HEADER(TESSEL_OP_END, 1) | 1u << 20};  // reserved header bits
  CHECK_FALSE(isa::decode(w.data(), w.size()).ok);
  CHECK_FALSE(isa::decode(w.data(), 0).ok);
}

TEST_CASE("the disassembler lists a stream with offsets and enum names", "[isa]") {
  std::vector<uint32_t> w;
  isa::Eltwise e;
  e.op = static_cast<uint8_t>(isa::EltwiseOp::kMul);
  e.count = 77;
  isa::encode(e, w);
  isa::encode(isa::SemWait{2, 5, 0}, w);
  isa::encode(isa::End{}, w);
  w.push_back(0xFF);
  const std::string text = isa::disassemble_stream(w.data(), w.size());
  CHECK(text.find("000000  ELTWISE op=MUL") != std::string::npos);
  CHECK(text.find("count=77") != std::string::npos);
  CHECK(text.find("SEM_WAIT engine=MAC sem=5") != std::string::npos);
  CHECK(text.find("END") != std::string::npos);
  CHECK(text.find("error: unknown opcode 255") != std::string::npos);
}

// tessel_cmd_reserved_mask (generated into the C header; the driver refuses a command with
// any of its bits set) against the C++ side of the contract: the disassembler prints
// every field except the reserved ones, so a single set bit that leaves a command's
// listing unchanged from the all-zero command's belongs to a reserved field, and every
// other bit does not. Checked for every bit of every word of every opcode.
TEST_CASE("the generated reserved-field mask covers exactly every command's reserved fields",
          "[isa]") {
  int commands = 0, reserved_bits = 0;
  for (uint32_t op = 0; op < 256; ++op) {
    const uint32_t n = tessel_cmd_words(op);
    INFO("opcode " << op);
    if (n == 0) {  // unknown opcode: nothing to mask
      for (uint32_t word = 0; word < 16; ++word) CHECK(tessel_cmd_reserved_mask(op, word) == 0);
      continue;
    }
    ++commands;
    std::vector<uint32_t> zero(n, 0);
    zero[0] = TESSEL_CMD_HEADER(op, n);
    const isa::DecodeResult z = isa::decode(zero.data(), zero.size());
    REQUIRE(z.ok);
    const std::string plain = isa::disassemble(z.command);
    CHECK(tessel_cmd_reserved_mask(op, 0) == 0);  // the header's own rule is separate
    CHECK(tessel_cmd_reserved_mask(op, n) == 0);  // past the command
    for (uint32_t word = 1; word < n; ++word) {
      uint32_t expected = 0;
      for (uint32_t bit = 0; bit < 32; ++bit) {
        std::vector<uint32_t> w = zero;
        w[word] = 1u << bit;
        const isa::DecodeResult d = isa::decode(w.data(), w.size());
        REQUIRE(d.ok);
        if (isa::disassemble(d.command) == plain) expected |= 1u << bit;
      }
      INFO("word " << word);
      CHECK(tessel_cmd_reserved_mask(op, word) == expected);
      for (uint32_t m = expected; m != 0; m &= m - 1) ++reserved_bits;
    }
  }
  CHECK(commands >= 17);  // at least NOP .. SOFTMAX (contract 1.2): the loop saw them
  CHECK(reserved_bits > 0);

  // Hand-picked from tessel_isa.yaml, independent of both generators.
  CHECK(tessel_cmd_reserved_mask(TESSEL_OP_DMA_LOAD, 5) == 0xFFFF0000u);  // after n3
  CHECK(tessel_cmd_reserved_mask(TESSEL_OP_DMA_STORE, 5) == 0xFFFF0000u);
  CHECK(tessel_cmd_reserved_mask(TESSEL_OP_DMA_LOAD, 4) == 0);            // n1, n2
  CHECK(tessel_cmd_reserved_mask(TESSEL_OP_FENCE, 1) == 0xFFFFFF00u);     // reserved, reserved2
  CHECK(tessel_cmd_reserved_mask(TESSEL_OP_RESIZE_ROWS, 1) == 0xFF000000u);
  CHECK(tessel_cmd_reserved_mask(TESSEL_OP_RESIZE_ROWS, 8) == 0xFFFF0000u);
  CHECK(tessel_cmd_reserved_mask(TESSEL_OP_SOFTMAX, 1) == 0xFFFFFF00u);   // reserved, reserved2
  CHECK(tessel_cmd_reserved_mask(TESSEL_OP_SOFTMAX, 5) == 0xFFFF0000u);   // reserved3
  CHECK(tessel_cmd_reserved_mask(TESSEL_OP_SOFTMAX, 2) == 0);             // in_addr
  CHECK(tessel_cmd_reserved_mask(TESSEL_OP_END, 1) == 0);
  CHECK(tessel_cmd_reserved_mask(TESSEL_OP_LUT, 1) == 0);
}
