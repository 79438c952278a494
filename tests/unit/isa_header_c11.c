/* Compiles the generated hardware-contract header as strict C11 (as the driver core and a
 * kernel module would) and exposes a few of its values to test_isa. */
#include "tessel_npu_isa.h"

unsigned tessel_c_cmd_words(unsigned opcode) { return tessel_cmd_words(opcode); }
unsigned tessel_c_conv_in_h(const uint32_t* words) {
  return TESSEL_CMD_FIELD(words, TESSEL_CMD_CONV_IN_H);
}
unsigned tessel_c_dma_dram_addr(const uint32_t* words) {
  return TESSEL_CMD_FIELD(words, TESSEL_CMD_DMA_LOAD_DRAM_ADDR);
}
unsigned tessel_c_perf_lo(unsigned i) { return TESSEL_REG_PERF_LO(i); }
