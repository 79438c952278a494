/* SPDX-License-Identifier: MIT */
/* Driver-core internals shared by tsl_drv.c, tsl_mm.c and tsl_validate.c. */
#ifndef TSL_INTERNAL_H
#define TSL_INTERNAL_H

#include "tessel_accel.h"
#include "tessel_npu_isa.h"
#include "tsl_drv.h"

#define TSL_PAGE 4096ull
#define TSL_MAX_CONTEXTS 16u
#define TSL_RING_ENTRIES 16u
/* The validated copy of a job's command stream is mapped here, in the job's context,
 * while the job runs (read-only; inside the range BO_CREATE refuses). */
#define TSL_CMD_WINDOW TESSEL_VA_RESERVED
/* Finished jobs of closed files kept (other contexts may still name them as in-fences);
 * an open file keeps its last TESSEL_JOB_HISTORY (the UAPI's promise). */
#define TSL_HISTORY 1024u

struct tsl_bo {
  struct tsl_bo *next; /* in file->bos */
  uint32_t handle;
  uint32_t va;
  uint64_t size; /* whole pages */
  uint64_t phys; /* contiguous in device memory */
  bool read_only;
  uint32_t busy; /* unfinished jobs that list this BO */
};

struct tsl_job {
  struct tsl_job *next;  /* dev->jobs, in submission order */
  struct tsl_file *file; /* NULL once the file is closed */
  uint32_t ctx;          /* hardware context */
  uint64_t fence;
  uint32_t hw_id; /* job_id in the ring entry */
  uint32_t status;
  struct tsl_bo **bos;
  uint32_t bo_count;
  uint64_t deps[TESSEL_MAX_IN_FENCES];
  uint32_t dep_count;
  uint64_t cmd_phys; /* driver-owned copy of the validated stream */
  uint32_t cmd_bytes;
  uint64_t timeout_ns;
  uint64_t start_ns, end_ns, cycles;
  uint32_t error_code, error_engine, error_offset, fault_addr;
  uint64_t perf_start[TESSEL_PERF_COUNT];
  uint64_t perf[TESSEL_PERF_COUNT];
};

struct tsl_file {
  struct tsl_dev *dev;
  uint32_t ctx;    /* hardware context index (MMU context) */
  uint64_t l1;     /* physical address of the level-1 page table */
  uint64_t *l2;    /* [1024]: physical address of each level-2 table, 0 = none */
  struct tsl_bo *bos;
  uint32_t next_handle;
  uint32_t next_va;
  uint32_t finished; /* finished records of this file's jobs in dev->jobs */
  uint32_t excess;   /* trim_history's scratch: how many of its oldest it may drop */
};

struct tsl_dev {
  struct tsl_port port;
  /* `lock` protects every field below and all tsl_file/tsl_bo/tsl_job state. It is held
   * across register accesses that must be atomic with the state they update (starting a
   * job, handling an interrupt, resetting), never while sleeping except inside
   * cond_wait_until, which releases it. Lock order: lock, then the port's own locks. */
  struct tsl_mutex *lock;
  struct tsl_cond *job_done; /* broadcast whenever a job finishes */

  uint64_t mem_bytes;
  uint64_t pages;     /* device-memory pages */
  uint8_t *page_used; /* one byte per page (1 = allocated) */
  uint64_t page_hint; /* where the next search starts */
  uint64_t pages_free;

  uint64_t ring_phys;
  uint32_t ring_tail;

  struct tsl_file *ctx_owner[TSL_MAX_CONTEXTS];
  uint32_t contexts;

  struct tsl_job *jobs, *jobs_last; /* pending and recent finished jobs */
  uint32_t pending;                 /* queued or running */
  uint32_t orphans;                 /* of which of closed files (job->file == NULL) */
  bool trim_pending;                /* some file or the orphans exceed their history */
  struct tsl_job *running;
  uint64_t next_fence;
  uint32_t next_hw_id;

  /* identification, read at probe */
  uint32_t hw_id, hw_version, hw_caps, mac_shape, sram_kib, clock_mhz, config_hash;
};

/* ---- tsl_drv.c helpers used by the other files ---- */
void tsl_log(struct tsl_dev *dev, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint32_t tsl_rd(struct tsl_dev *dev, uint32_t offset);
void tsl_wr(struct tsl_dev *dev, uint32_t offset, uint32_t value);

/* ---- tsl_mm.c: device memory and NPU page tables (dev->lock held) ---- */
int tsl_mm_init(struct tsl_dev *dev);
void tsl_mm_fini(struct tsl_dev *dev);
/* Contiguous zeroed pages; 0 = none free (physical page 0 is never handed out). */
uint64_t tsl_pages_alloc(struct tsl_dev *dev, uint64_t pages);
void tsl_pages_free(struct tsl_dev *dev, uint64_t phys, uint64_t pages);
int tsl_ctx_init(struct tsl_file *file);
void tsl_ctx_fini(struct tsl_file *file);
/* Maps `pages` pages at `va` to `phys` in the file's context. 0 or -TSL_ENOMEM. */
int tsl_map(struct tsl_file *file, uint32_t va, uint64_t phys, uint64_t pages, bool writable);
/* Unmaps and invalidates the device's TLB. */
void tsl_unmap(struct tsl_file *file, uint32_t va, uint64_t pages);

/* ---- tsl_validate.c ---- */
struct tsl_bo_range {
  uint32_t va;
  uint64_t size;
  bool read_only;
};
/* Checks a command stream (`words`, `count` words) against the buffers a job may use.
 * 0, or a tessel_submit_error with *bad_offset = byte offset of the refused command. */
uint32_t tsl_validate(const uint32_t *words, uint32_t count, const struct tsl_bo_range *bos,
                      uint32_t bo_count, uint32_t *bad_offset);

#endif /* TSL_INTERNAL_H */
