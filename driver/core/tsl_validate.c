/* SPDX-License-Identifier: MIT */
/*
 * Command-stream validation: the driver refuses a job before the device sees it when a
 * command is malformed or a DMA could reach memory the submission did not list.
 *
 * What is checked (docs/driver.md, "Validation"):
 *   - every header: known opcode, LENGTH equal to the opcode's length, bits 31:16 zero;
 *   - every command's reserved fields zero (the generated tessel_cmd_reserved_mask);
 *   - the stream ends with END as its last command, and END appears nowhere else;
 *   - DMA_LOAD/DMA_STORE: every dimension non-empty; the footprint — every byte
 *     the four-dimensional pattern touches — lies inside one listed BO; a store's BO is
 *     writable.
 * The footprint of a pattern with strides s1..s3 (unsigned) is inside
 *   [dram_addr, dram_addr + (n1-1)*s1 + (n2-1)*s2 + (n3-1)*s3 + len0)
 * and that bounding range is what is checked: conservative (a sparse pattern's holes
 * must lie in the BO too) and exact for every pattern the compiler emits. In 64-bit
 * arithmetic it cannot overflow (each product < 2^48).
 * Operands the device checks itself (SRAM ranges, shapes) are left to the device, which
 * stops with BAD_OPERAND; they cannot reach outside the job's memory.
 */
#include "tsl_internal.h"

static bool inside(const struct tsl_bo_range *bo, uint64_t lo, uint64_t hi) {
  return lo >= bo->va && hi <= (uint64_t)bo->va + bo->size;
}

static uint32_t check_dma(const uint32_t *w, bool store, const struct tsl_bo_range *bos,
                          uint32_t bo_count) {
  /* DMA_LOAD and DMA_STORE share one layout (tessel_isa.yaml). */
  const uint64_t addr = TESSEL_CMD_FIELD(w, TESSEL_CMD_DMA_LOAD_DRAM_ADDR);
  const uint64_t len0 = TESSEL_CMD_FIELD(w, TESSEL_CMD_DMA_LOAD_LEN0);
  const uint64_t n1 = TESSEL_CMD_FIELD(w, TESSEL_CMD_DMA_LOAD_N1);
  const uint64_t n2 = TESSEL_CMD_FIELD(w, TESSEL_CMD_DMA_LOAD_N2);
  const uint64_t n3 = TESSEL_CMD_FIELD(w, TESSEL_CMD_DMA_LOAD_N3);
  const uint64_t s1 = TESSEL_CMD_FIELD(w, TESSEL_CMD_DMA_LOAD_DRAM_STRIDE1);
  const uint64_t s2 = TESSEL_CMD_FIELD(w, TESSEL_CMD_DMA_LOAD_DRAM_STRIDE2);
  const uint64_t s3 = TESSEL_CMD_FIELD(w, TESSEL_CMD_DMA_LOAD_DRAM_STRIDE3);
  if (len0 == 0 || n1 == 0 || n2 == 0 || n3 == 0) return TESSEL_SUBMIT_BAD_FIELD;
  const uint64_t hi = addr + (n1 - 1) * s1 + (n2 - 1) * s2 + (n3 - 1) * s3 + len0;
  for (uint32_t i = 0; i < bo_count; ++i) {
    if (inside(&bos[i], addr, hi)) {
      if (store && bos[i].read_only) return TESSEL_SUBMIT_READ_ONLY;
      return TESSEL_SUBMIT_OK;
    }
  }
  return TESSEL_SUBMIT_OUT_OF_BOUNDS;
}

/* The UAPI promises that SUBMIT refuses a command whose reserved fields are not zero
 * (TESSEL_SUBMIT_BAD_FIELD): the device ignores these bits, so a stream using them would
 * run today and change meaning once a later contract version defines them. Which bits are
 * reserved comes from the contract itself (tessel_cmd_reserved_mask, generated from
 * tessel_isa.yaml by scripts/gen_isa.py), so a command added to the spec is covered
 * without touching the driver. `len` is the command's length, already checked. */
static bool reserved_clear(const uint32_t *w, uint32_t op, uint32_t len) {
  for (uint32_t i = 1; i < len; ++i) {
    if (w[i] & tessel_cmd_reserved_mask(op, i)) return false;
  }
  return true;
}

uint32_t tsl_validate(const uint32_t *words, uint32_t count, const struct tsl_bo_range *bos,
                      uint32_t bo_count, uint32_t *bad_offset) {
  uint32_t pos = 0;
  *bad_offset = 0;
  while (pos < count) {
    const uint32_t *w = words + pos;
    *bad_offset = pos * 4u;
    const uint32_t op = TESSEL_GET(w[0], TESSEL_CMD_OPCODE);
    const uint32_t len = TESSEL_GET(w[0], TESSEL_CMD_LENGTH);
    const uint32_t want = tessel_cmd_words(op);
    if (want == 0) return TESSEL_SUBMIT_BAD_OPCODE;  /* every defined opcode has a length */
    if ((w[0] >> 16) != 0) return TESSEL_SUBMIT_BAD_FIELD;
    if (len != want || len > count - pos) return TESSEL_SUBMIT_BAD_LENGTH;
    if (!reserved_clear(w, op, len)) return TESSEL_SUBMIT_BAD_FIELD;
    if (op == TESSEL_OP_END) {
      return pos + len == count ? TESSEL_SUBMIT_OK : TESSEL_SUBMIT_NO_END;
    }
    if (op == TESSEL_OP_DMA_LOAD || op == TESSEL_OP_DMA_STORE) {
      const uint32_t r = check_dma(w, op == TESSEL_OP_DMA_STORE, bos, bo_count);
      if (r != TESSEL_SUBMIT_OK) return r;
    }
    pos += len;
  }
  *bad_offset = count * 4u;
  return TESSEL_SUBMIT_NO_END;
}
