/* SPDX-License-Identifier: MIT */
/*
 * Device memory and NPU page tables. All functions run with dev->lock held.
 *
 * Physical memory: a first-fit allocator of contiguous 4 KiB pages over the device's
 * memory (one byte of state per page). Physical page 0 is never handed out (a page-table
 * base of 0 means "context disabled"). Allocations are zeroed: a buffer never shows a
 * previous owner's data to another context.
 *
 * Page tables (format: docs/isa.md, struct PTE): per context, a level-1 table of 1024
 * entries (8 KiB), and level-2 tables allocated on first use and kept until the context
 * closes. A level-2 entry maps one page, VALID and, unless read-only, WRITABLE.
 */
#include "tsl_internal.h"

#define PTE_PER_TABLE 1024u
#define TABLE_PAGES 2u /* 1024 entries x 8 bytes */

static uint8_t zero_page[4096];

static void zero_phys(struct tsl_dev *dev, uint64_t phys, uint64_t bytes) {
  while (bytes > 0) {
    const uint64_t n = bytes < sizeof zero_page ? bytes : sizeof zero_page;
    dev->port.ops->mem_write(dev->port.hw, phys, zero_page, (size_t)n);
    phys += n;
    bytes -= n;
  }
}

static void write_pte(struct tsl_dev *dev, uint64_t at, uint32_t flags, uint64_t phys) {
  uint32_t pte[2];
  pte[TESSEL_PTE_FLAGS_WORD] = flags;
  pte[TESSEL_PTE_PHYS_PAGE_WORD] = (uint32_t)(phys >> 12);
  dev->port.ops->mem_write(dev->port.hw, at, pte, sizeof pte);
}

int tsl_mm_init(struct tsl_dev *dev) {
  dev->pages = dev->mem_bytes / TSL_PAGE;
  if (dev->pages < 16) return -TSL_ENOMEM;
  dev->page_used = dev->port.ops->zalloc((size_t)dev->pages);
  if (dev->page_used == NULL) return -TSL_ENOMEM;
  dev->page_used[0] = 1;
  dev->pages_free = dev->pages - 1;
  dev->page_hint = 1;
  return 0;
}

void tsl_mm_fini(struct tsl_dev *dev) {
  dev->port.ops->free(dev->page_used);
  dev->page_used = NULL;
}

/* First fit from the hint, wrapping once. */
uint64_t tsl_pages_alloc(struct tsl_dev *dev, uint64_t pages) {
  if (pages == 0 || pages > dev->pages_free) return 0;
  for (int pass = 0; pass < 2; ++pass) {
    uint64_t start = pass == 0 ? dev->page_hint : 1;
    const uint64_t end = pass == 0 ? dev->pages : dev->page_hint + pages;
    uint64_t run = 0;
    for (uint64_t p = start; p < end && p < dev->pages; ++p) {
      if (dev->page_used[p]) {
        run = 0;
        start = p + 1;
        continue;
      }
      if (++run == pages) {
        tsl_memset(dev->page_used + start, 1, (size_t)pages);
        dev->pages_free -= pages;
        dev->page_hint = start + pages;
        zero_phys(dev, start * TSL_PAGE, pages * TSL_PAGE);
        return start * TSL_PAGE;
      }
    }
  }
  return 0;
}

void tsl_pages_free(struct tsl_dev *dev, uint64_t phys, uint64_t pages) {
  if (phys == 0) return;
  const uint64_t first = phys / TSL_PAGE;
  tsl_memset(dev->page_used + first, 0, (size_t)pages);
  dev->pages_free += pages;
  if (first < dev->page_hint) dev->page_hint = first;
}

int tsl_ctx_init(struct tsl_file *file) {
  struct tsl_dev *dev = file->dev;
  file->l2 = dev->port.ops->zalloc(PTE_PER_TABLE * sizeof(uint64_t));
  if (file->l2 == NULL) return -TSL_ENOMEM;
  file->l1 = tsl_pages_alloc(dev, TABLE_PAGES);
  if (file->l1 == 0) {
    dev->port.ops->free(file->l2);
    file->l2 = NULL;
    return -TSL_ENOMEM;
  }
  tsl_wr(dev, TESSEL_REG_PT_BASE_HI(file->ctx), (uint32_t)(file->l1 >> 32));
  tsl_wr(dev, TESSEL_REG_PT_BASE_LO(file->ctx), (uint32_t)file->l1);
  return 0;
}

void tsl_ctx_fini(struct tsl_file *file) {
  struct tsl_dev *dev = file->dev;
  tsl_wr(dev, TESSEL_REG_PT_BASE_LO(file->ctx), 0);
  tsl_wr(dev, TESSEL_REG_PT_BASE_HI(file->ctx), 0);
  tsl_wr(dev, TESSEL_REG_MMU_FLUSH, 1);
  if (file->l2 != NULL) {
    for (uint32_t i = 0; i < PTE_PER_TABLE; ++i) tsl_pages_free(dev, file->l2[i], TABLE_PAGES);
  }
  tsl_pages_free(dev, file->l1, TABLE_PAGES);
  dev->port.ops->free(file->l2);
  file->l2 = NULL;
  file->l1 = 0;
}

int tsl_map(struct tsl_file *file, uint32_t va, uint64_t phys, uint64_t pages, bool writable) {
  struct tsl_dev *dev = file->dev;
  const uint32_t flags = TESSEL_PTE_VALID | (writable ? TESSEL_PTE_WRITABLE : 0u);
  for (uint64_t i = 0; i < pages; ++i) {
    const uint32_t v = va + (uint32_t)(i * TSL_PAGE);
    const uint32_t l1i = v >> 22, l2i = (v >> 12) & (PTE_PER_TABLE - 1);
    if (file->l2[l1i] == 0) {
      const uint64_t table = tsl_pages_alloc(dev, TABLE_PAGES);
      if (table == 0) {
        tsl_unmap(file, va, i);
        return -TSL_ENOMEM;
      }
      file->l2[l1i] = table;
      write_pte(dev, file->l1 + 8ull * l1i, TESSEL_PTE_VALID, table);
    }
    write_pte(dev, file->l2[l1i] + 8ull * l2i, flags, phys + i * TSL_PAGE);
  }
  return 0;
}

void tsl_unmap(struct tsl_file *file, uint32_t va, uint64_t pages) {
  struct tsl_dev *dev = file->dev;
  for (uint64_t i = 0; i < pages; ++i) {
    const uint32_t v = va + (uint32_t)(i * TSL_PAGE);
    const uint32_t l1i = v >> 22, l2i = (v >> 12) & (PTE_PER_TABLE - 1);
    if (file->l2[l1i] != 0) write_pte(dev, file->l2[l1i] + 8ull * l2i, 0, 0);
  }
  tsl_wr(dev, TESSEL_REG_MMU_FLUSH, 1);
}
