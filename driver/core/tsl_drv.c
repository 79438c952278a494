/* SPDX-License-Identifier: MIT */
/*
 * The Tessel NPU driver core: probe, contexts, buffer objects, job submission and
 * scheduling, interrupt handling, timeouts and recovery. docs/driver.md walks through
 * it with the job lifecycle and the recovery sequence.
 *
 * Scheduling: jobs from all contexts queue in one FIFO (dev->jobs). One job runs at a
 * time: the scheduler picks the oldest queued job whose in-fences have all finished,
 * maps its validated command copy at TSL_CMD_WINDOW in its context, writes a ring entry
 * and rings the doorbell. The interrupt handler completes it (JOB_DONE) or records the
 * device's error (MMU_FAULT, CMD_ERROR, DMA_ERROR), resets the device and starts the
 * next job; the watchdog does the same for a job past its timeout. A device reset keeps
 * the page tables, so other contexts' jobs are unaffected: only the failing job fails.
 */
#include "tsl_internal.h"

/* ------------------------------------------------------------------------ helpers */

void tsl_log(struct tsl_dev *dev, int level, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  dev->port.ops->log(dev->port.hw, level, fmt, args);
  va_end(args);
}

uint32_t tsl_rd(struct tsl_dev *dev, uint32_t offset) {
  return dev->port.ops->reg_read(dev->port.hw, offset);
}

void tsl_wr(struct tsl_dev *dev, uint32_t offset, uint32_t value) {
  dev->port.ops->reg_write(dev->port.hw, offset, value);
}

static void lock(struct tsl_dev *dev) { dev->port.ops->mutex_lock(dev->lock); }
static void unlock(struct tsl_dev *dev) { dev->port.ops->mutex_unlock(dev->lock); }

static uint64_t pages_of(uint64_t bytes) { return (bytes + TSL_PAGE - 1) / TSL_PAGE; }

static void read_counters(struct tsl_dev *dev, uint64_t *out) {
  for (uint32_t i = 0; i < TESSEL_PERF_COUNT; ++i) {
    const uint32_t lo = tsl_rd(dev, TESSEL_REG_PERF_LO(i)); /* latches the high word */
    const uint32_t hi = tsl_rd(dev, TESSEL_REG_PERF_HI(i));
    out[i] = (uint64_t)hi << 32 | lo;
  }
}

static bool finished(uint32_t status) {
  return status != TESSEL_JOB_QUEUED && status != TESSEL_JOB_RUNNING;
}

/* ------------------------------------------------------------------ device setup */

/* Puts the device into a known state: soft reset (aborts work, clears errors, ring
 * indices and counters; page-table bases survive), ring and interrupts programmed. */
static void reset_device(struct tsl_dev *dev) {
  tsl_wr(dev, TESSEL_REG_SOFT_RESET, 1);
  tsl_wr(dev, TESSEL_REG_RING_BASE_HI, (uint32_t)(dev->ring_phys >> 32));
  tsl_wr(dev, TESSEL_REG_RING_BASE_LO, (uint32_t)dev->ring_phys);
  tsl_wr(dev, TESSEL_REG_RING_SIZE, TSL_RING_ENTRIES);
  tsl_wr(dev, TESSEL_REG_IRQ_CLEAR, 0xFFFFFFFFu);
  tsl_wr(dev, TESSEL_REG_IRQ_MASK,
         (TESSEL_IRQ_STATUS_JOB_DONE_MASK << TESSEL_IRQ_STATUS_JOB_DONE_SHIFT) |
             (TESSEL_IRQ_STATUS_MMU_FAULT_MASK << TESSEL_IRQ_STATUS_MMU_FAULT_SHIFT) |
             (TESSEL_IRQ_STATUS_CMD_ERROR_MASK << TESSEL_IRQ_STATUS_CMD_ERROR_SHIFT) |
             (TESSEL_IRQ_STATUS_DMA_ERROR_MASK << TESSEL_IRQ_STATUS_DMA_ERROR_SHIFT));
  dev->ring_tail = 0;
}

int tsl_probe(const struct tsl_port *port, uint64_t mem_bytes, struct tsl_dev **out) {
  *out = NULL;
  struct tsl_dev *dev = port->ops->zalloc(sizeof *dev);
  if (dev == NULL) return -TSL_ENOMEM;
  dev->port = *port;
  dev->mem_bytes = mem_bytes;
  dev->hw_id = tsl_rd(dev, TESSEL_REG_ID);
  dev->hw_version = tsl_rd(dev, TESSEL_REG_VERSION);
  const uint32_t major = TESSEL_GET(dev->hw_version, TESSEL_VERSION_MAJOR);
  const uint32_t minor = TESSEL_GET(dev->hw_version, TESSEL_VERSION_MINOR);
  if (dev->hw_id != TESSEL_ISA_ID) {
    tsl_log(dev, TSL_LOG_ERR, "probe: ID register reads 0x%08x, not a Tessel NPU (0x%08x)",
            dev->hw_id, TESSEL_ISA_ID);
    port->ops->free(dev);
    return -TSL_ENODEV;
  }
  if (major != TESSEL_ISA_VERSION_MAJOR || minor < TESSEL_ISA_VERSION_MINOR) {
    tsl_log(dev, TSL_LOG_ERR,
            "probe: hardware contract %u.%u is incompatible with the driver's %u.%u "
            "(same major and at least the driver's minor needed)",
            major, minor, TESSEL_ISA_VERSION_MAJOR, TESSEL_ISA_VERSION_MINOR);
    port->ops->free(dev);
    return -TSL_ENODEV;
  }
  dev->hw_caps = tsl_rd(dev, TESSEL_REG_CAPS);
  dev->mac_shape = tsl_rd(dev, TESSEL_REG_MAC_SHAPE);
  dev->sram_kib = tsl_rd(dev, TESSEL_REG_SRAM_KIB);
  dev->clock_mhz = tsl_rd(dev, TESSEL_REG_CLOCK_MHZ);
  dev->config_hash = tsl_rd(dev, TESSEL_REG_CONFIG_HASH);
  dev->contexts = TESSEL_GET(dev->hw_caps, TESSEL_CAPS_CONTEXTS);
  if (dev->contexts > TSL_MAX_CONTEXTS) dev->contexts = TSL_MAX_CONTEXTS;
  if (dev->contexts == 0 || TESSEL_GET(dev->hw_caps, TESSEL_CAPS_MMU) == 0) {
    tsl_log(dev, TSL_LOG_ERR, "probe: the device has no MMU contexts (CAPS 0x%08x)",
            dev->hw_caps);
    port->ops->free(dev);
    return -TSL_ENODEV;
  }
  dev->lock = port->ops->mutex_create();
  dev->job_done = port->ops->cond_create();
  int err = dev->lock && dev->job_done ? tsl_mm_init(dev) : -TSL_ENOMEM;
  if (err == 0) {
    dev->ring_phys = tsl_pages_alloc(dev, 1);
    if (dev->ring_phys == 0) err = -TSL_ENOMEM;
  }
  if (err != 0) {
    tsl_mm_fini(dev);
    if (dev->job_done) port->ops->cond_destroy(dev->job_done);
    if (dev->lock) port->ops->mutex_destroy(dev->lock);
    port->ops->free(dev);
    return err;
  }
  for (uint32_t c = 0; c < TSL_MAX_CONTEXTS; ++c) {
    tsl_wr(dev, TESSEL_REG_PT_BASE_LO(c), 0);
    tsl_wr(dev, TESSEL_REG_PT_BASE_HI(c), 0);
  }
  reset_device(dev);
  dev->next_fence = 1;
  dev->next_hw_id = 1;
  tsl_log(dev, TSL_LOG_INFO, "probe: Tessel NPU %u.%u, MAC %ux%u, %u KiB SRAM, %u MHz, %u contexts",
          major, minor, TESSEL_GET(dev->mac_shape, TESSEL_MAC_SHAPE_ROWS),
          TESSEL_GET(dev->mac_shape, TESSEL_MAC_SHAPE_COLS), dev->sram_kib, dev->clock_mhz,
          dev->contexts);
  *out = dev;
  return 0;
}

static void free_job(struct tsl_dev *dev, struct tsl_job *job) {
  dev->port.ops->free(job->bos);
  dev->port.ops->free(job);
}

void tsl_remove(struct tsl_dev *dev) {
  if (dev == NULL) return;
  lock(dev);
  tsl_wr(dev, TESSEL_REG_SOFT_RESET, 1);
  tsl_wr(dev, TESSEL_REG_IRQ_MASK, 0);
  struct tsl_job *job = dev->jobs;
  while (job != NULL) {
    struct tsl_job *next = job->next;
    if (job->cmd_phys) tsl_pages_free(dev, job->cmd_phys, pages_of(job->cmd_bytes));
    free_job(dev, job);
    job = next;
  }
  dev->jobs = dev->jobs_last = NULL;
  tsl_pages_free(dev, dev->ring_phys, 1);
  tsl_mm_fini(dev);
  unlock(dev);
  dev->port.ops->cond_destroy(dev->job_done);
  dev->port.ops->mutex_destroy(dev->lock);
  dev->port.ops->free(dev);
}

/* ------------------------------------------------------------------ job lifecycle */

static struct tsl_job *find_job(struct tsl_dev *dev, uint64_t fence) {
  for (struct tsl_job *j = dev->jobs; j != NULL; j = j->next) {
    if (j->fence == fence) return j;
  }
  return NULL;
}

static bool is_dependency(struct tsl_dev *dev, uint64_t fence) {
  for (struct tsl_job *j = dev->jobs; j != NULL; j = j->next) {
    if (finished(j->status)) continue;
    for (uint32_t i = 0; i < j->dep_count; ++i) {
      if (j->deps[i] == fence) return true;
    }
  }
  return false;
}

/* Drops the oldest finished records beyond the history: each open file's last
 * TESSEL_JOB_HISTORY are kept, and the last TSL_HISTORY of closed files; never one an
 * unfinished job depends on.
 * Fix (drvtest): the history was one device-wide list of TSL_HISTORY records, so a busy
 * context pushed another context's recent records out (JOB_STATUS/WAIT -ENOENT) although
 * the UAPI promises TESSEL_JOB_HISTORY per context. Only the oldest `excess` records of
 * each file are candidates, so a record kept for a dependent does not cost a newer one. */
static void trim_history(struct tsl_dev *dev) {
  if (!dev->trim_pending) return;
  dev->trim_pending = false;
  for (uint32_t c = 0; c < TSL_MAX_CONTEXTS; ++c) {
    struct tsl_file *f = dev->ctx_owner[c];
    if (f != NULL) f->excess = f->finished > TESSEL_JOB_HISTORY ? f->finished - TESSEL_JOB_HISTORY : 0;
  }
  uint32_t orphan_excess = dev->orphans > TSL_HISTORY ? dev->orphans - TSL_HISTORY : 0;
  struct tsl_job **link = &dev->jobs;
  struct tsl_job *last = NULL;
  while (*link != NULL) {
    struct tsl_job *j = *link;
    uint32_t *excess = j->file != NULL ? &j->file->excess : &orphan_excess;
    if (finished(j->status) && *excess > 0) {
      --*excess;
      if (!is_dependency(dev, j->fence)) {
        *link = j->next;
        if (j->file != NULL) {
          j->file->finished--;
        } else {
          dev->orphans--;
        }
        free_job(dev, j);
        continue;
      }
      dev->trim_pending = true; /* kept for its dependent: retry on a later call */
    }
    last = j;
    link = &j->next;
  }
  dev->jobs_last = last;
}

/* Moves a job to a final state: releases its buffers and command copy, records the
 * counters, wakes waiters. `counters`: read before any reset, or NULL. */
static void finish_job(struct tsl_dev *dev, struct tsl_job *job, uint32_t status,
                       const uint64_t *counters) {
  const bool ran = job->status == TESSEL_JOB_RUNNING;
  job->status = status;
  job->end_ns = dev->port.ops->device_time_ns(dev->port.hw);
  if (ran && counters != NULL) {
    for (uint32_t i = 0; i < TESSEL_PERF_COUNT; ++i) {
      job->perf[i] = counters[i] >= job->perf_start[i] ? counters[i] - job->perf_start[i] : 0;
    }
    job->cycles = job->perf[TESSEL_PERF_CYCLES];
  }
  if (ran && job->file != NULL) tsl_unmap(job->file, TSL_CMD_WINDOW, pages_of(job->cmd_bytes));
  for (uint32_t i = 0; i < job->bo_count; ++i) job->bos[i]->busy--;
  dev->port.ops->free(job->bos);
  job->bos = NULL;
  job->bo_count = 0;
  tsl_pages_free(dev, job->cmd_phys, pages_of(job->cmd_bytes));
  job->cmd_phys = 0;
  if (dev->running == job) dev->running = NULL;
  dev->pending--;
  if (job->file != NULL) {
    if (++job->file->finished > TESSEL_JOB_HISTORY) dev->trim_pending = true;
  } else if (++dev->orphans > TSL_HISTORY) {
    dev->trim_pending = true;
  }
  dev->port.ops->cond_broadcast(dev->job_done);
}

/* 0: every in-fence finished successfully; 1: some still pending; -1: one failed. */
static int deps_state(struct tsl_dev *dev, const struct tsl_job *job) {
  int state = 0;
  for (uint32_t i = 0; i < job->dep_count; ++i) {
    const struct tsl_job *d = find_job(dev, job->deps[i]);
    if (d == NULL) continue; /* dropped from the history: it finished long ago */
    if (!finished(d->status)) {
      state = 1;
    } else if (d->status != TESSEL_JOB_DONE) {
      return -1;
    }
  }
  return state;
}

static void start_job(struct tsl_dev *dev, struct tsl_job *job) {
  if (tsl_map(job->file, TSL_CMD_WINDOW, job->cmd_phys, pages_of(job->cmd_bytes), false) != 0) {
    tsl_log(dev, TSL_LOG_ERR, "job %llu: no memory for its page tables",
            (unsigned long long)job->fence);
    finish_job(dev, job, TESSEL_JOB_CANCELLED, NULL);
    return;
  }
  if (dev->port.ops->job_ready != NULL) {
    dev->port.ops->job_ready(dev->port.hw, job->cmd_phys, job->cmd_bytes);
  }
  uint32_t entry[TESSEL_RING_ENTRY_BYTES / 4] = {0};
  entry[TESSEL_RING_ENTRY_CMD_ADDR_WORD] = TSL_CMD_WINDOW;
  entry[TESSEL_RING_ENTRY_CMD_BYTES_WORD] = job->cmd_bytes;
  entry[TESSEL_RING_ENTRY_CONTEXT_WORD] = job->ctx;
  entry[TESSEL_RING_ENTRY_JOB_ID_WORD] = job->hw_id;
  const uint64_t at = dev->ring_phys + TESSEL_RING_ENTRY_BYTES * (dev->ring_tail % TSL_RING_ENTRIES);
  dev->port.ops->mem_write(dev->port.hw, at, entry, sizeof entry);
  read_counters(dev, job->perf_start);
  job->status = TESSEL_JOB_RUNNING;
  job->start_ns = dev->port.ops->device_time_ns(dev->port.hw);
  dev->running = job;
  dev->ring_tail++;
  tsl_wr(dev, TESSEL_REG_RING_TAIL, dev->ring_tail);
  tsl_wr(dev, TESSEL_REG_DOORBELL, 1);
}

/* Cancels jobs whose dependencies failed; starts the oldest runnable job if the device
 * is free; then trims the history (the only place records are freed, so callers may walk
 * dev->jobs while finishing jobs, as long as they call this after).
 * Fix (drvtest): cancellation used to happen only while the device was idle, so a job
 * whose in-fence failed (or whose in-fence's file was closed) stayed QUEUED, and its
 * waiters blocked, for as long as an unrelated job ran: forever behind a hung job with a
 * long timeout. Now every scan cancels, busy or not. A job's in-fences are earlier jobs,
 * so one pass in submission order sees each cancellation before its dependents. */
static void schedule(struct tsl_dev *dev) {
  for (struct tsl_job *j = dev->jobs; j != NULL; j = j->next) {
    if (j->status != TESSEL_JOB_QUEUED) continue;
    const int deps = deps_state(dev, j);
    if (deps < 0) {
      tsl_log(dev, TSL_LOG_WARN, "job %llu cancelled: an in-fence failed",
              (unsigned long long)j->fence);
      finish_job(dev, j, TESSEL_JOB_CANCELLED, NULL);
    } else if (deps == 0 && dev->running == NULL) {
      start_job(dev, j); /* on failure it cancels the job: the scan goes on */
    }
  }
  trim_history(dev);
}

/* Stops the running job with `status` (device error or timeout) and recovers. */
static void fail_running(struct tsl_dev *dev, uint32_t status) {
  struct tsl_job *job = dev->running;
  uint64_t counters[TESSEL_PERF_COUNT];
  read_counters(dev, counters);
  if (job != NULL) {
    const uint32_t err = tsl_rd(dev, TESSEL_REG_ERROR_STATUS);
    job->error_code = TESSEL_GET(err, TESSEL_ERROR_STATUS_CODE);
    job->error_engine = TESSEL_GET(err, TESSEL_ERROR_STATUS_ENGINE);
    job->error_offset = tsl_rd(dev, TESSEL_REG_ERROR_OFFSET);
    job->fault_addr = tsl_rd(dev, TESSEL_REG_FAULT_ADDR);
  }
  reset_device(dev);
  if (job != NULL) {
    tsl_log(dev, TSL_LOG_WARN,
            "job %llu (context %u) failed: status %u, device error %u on engine %u at "
            "command offset %u, address 0x%08x; device reset",
            (unsigned long long)job->fence, job->ctx, status, job->error_code,
            job->error_engine, job->error_offset, job->fault_addr);
    finish_job(dev, job, status, counters);
  }
}

void tsl_irq(struct tsl_dev *dev) {
  lock(dev);
  const uint32_t status = tsl_rd(dev, TESSEL_REG_IRQ_STATUS);
  if (status == 0) {
    unlock(dev);
    return;
  }
  tsl_wr(dev, TESSEL_REG_IRQ_CLEAR, status);
  const uint32_t mmu = TESSEL_IRQ_STATUS_MMU_FAULT_MASK << TESSEL_IRQ_STATUS_MMU_FAULT_SHIFT;
  const uint32_t cmd = TESSEL_IRQ_STATUS_CMD_ERROR_MASK << TESSEL_IRQ_STATUS_CMD_ERROR_SHIFT;
  const uint32_t dma = TESSEL_IRQ_STATUS_DMA_ERROR_MASK << TESSEL_IRQ_STATUS_DMA_ERROR_SHIFT;
  const uint32_t done = TESSEL_IRQ_STATUS_JOB_DONE_MASK << TESSEL_IRQ_STATUS_JOB_DONE_SHIFT;
  if (status & (mmu | cmd | dma)) {
    fail_running(dev, (status & mmu)   ? TESSEL_JOB_MMU_FAULT
                      : (status & dma) ? TESSEL_JOB_DMA_ERROR
                                       : TESSEL_JOB_INVALID_COMMAND);
  } else if ((status & done) && dev->running != NULL &&
             tsl_rd(dev, TESSEL_REG_DONE_JOB_ID) == dev->running->hw_id) {
    uint64_t counters[TESSEL_PERF_COUNT];
    read_counters(dev, counters);
    finish_job(dev, dev->running, TESSEL_JOB_DONE, counters);
  }
  schedule(dev);
  unlock(dev);
}

void tsl_watchdog(struct tsl_dev *dev) {
  lock(dev);
  struct tsl_job *job = dev->running;
  if (job != NULL) {
    const uint64_t now = dev->port.ops->device_time_ns(dev->port.hw);
    if (now - job->start_ns > job->timeout_ns) {
      tsl_log(dev, TSL_LOG_WARN, "job %llu (context %u) timed out after %llu ns of device time",
              (unsigned long long)job->fence, job->ctx,
              (unsigned long long)(now - job->start_ns));
      fail_running(dev, TESSEL_JOB_TIMEOUT);
      schedule(dev);
    }
  }
  unlock(dev);
}

/* ------------------------------------------------------------------------ files */

int tsl_open(struct tsl_dev *dev, struct tsl_file **out) {
  *out = NULL;
  struct tsl_file *file = dev->port.ops->zalloc(sizeof *file);
  if (file == NULL) return -TSL_ENOMEM;
  file->dev = dev;
  file->next_handle = 1;
  file->next_va = 0x00100000u; /* the first MiB stays unmapped: null-pointer guard */
  lock(dev);
  uint32_t ctx = 0;
  while (ctx < dev->contexts && dev->ctx_owner[ctx] != NULL) ++ctx;
  int err = ctx < dev->contexts ? 0 : -TSL_EBUSY;
  if (err == 0) {
    file->ctx = ctx;
    err = tsl_ctx_init(file);
  }
  if (err == 0) dev->ctx_owner[ctx] = file;
  unlock(dev);
  if (err != 0) {
    dev->port.ops->free(file);
    return err;
  }
  *out = file;
  return 0;
}

static void destroy_bo(struct tsl_file *file, struct tsl_bo *bo) {
  tsl_unmap(file, bo->va, bo->size / TSL_PAGE);
  tsl_pages_free(file->dev, bo->phys, bo->size / TSL_PAGE);
  file->dev->port.ops->free(bo);
}

void tsl_release(struct tsl_file *file) {
  if (file == NULL) return;
  struct tsl_dev *dev = file->dev;
  lock(dev);
  /* The running job of this context is stopped by a reset (other contexts' queued jobs
   * just wait a little longer); queued ones are cancelled. */
  if (dev->running != NULL && dev->running->file == file) {
    fail_running(dev, TESSEL_JOB_CANCELLED);
  }
  for (struct tsl_job *j = dev->jobs; j != NULL; j = j->next) {
    if (j->file == file && j->status == TESSEL_JOB_QUEUED) {
      finish_job(dev, j, TESSEL_JOB_CANCELLED, NULL);
    }
  }
  for (struct tsl_job *j = dev->jobs; j != NULL; j = j->next) {
    if (j->file == file) {
      j->file = NULL; /* every job of the file has finished by now: its record is an orphan */
      if (++dev->orphans > TSL_HISTORY) dev->trim_pending = true;
    }
  }
  while (file->bos != NULL) {
    struct tsl_bo *bo = file->bos;
    file->bos = bo->next;
    destroy_bo(file, bo);
  }
  tsl_ctx_fini(file);
  dev->ctx_owner[file->ctx] = NULL;
  schedule(dev);
  unlock(dev);
  dev->port.ops->free(file);
}

uint32_t tsl_file_context(const struct tsl_file *file) { return file->ctx; }

/* ------------------------------------------------------------------ buffer objects */

static struct tsl_bo *find_bo(struct tsl_file *file, uint32_t handle) {
  for (struct tsl_bo *bo = file->bos; bo != NULL; bo = bo->next) {
    if (bo->handle == handle) return bo;
  }
  return NULL;
}

static bool overlaps(struct tsl_file *file, uint64_t va, uint64_t size) {
  for (struct tsl_bo *bo = file->bos; bo != NULL; bo = bo->next) {
    if (va < (uint64_t)bo->va + bo->size && bo->va < va + size) return true;
  }
  return false;
}

/* The lowest free address >= file->next_va with room for `size` bytes and a guard page
 * after it; 0 when the space is exhausted. */
static uint32_t choose_va(struct tsl_file *file, uint64_t size) {
  uint64_t va = file->next_va;
  for (;;) {
    if (va + size + TSL_PAGE > TESSEL_VA_RESERVED) return 0;
    bool moved = false;
    for (struct tsl_bo *bo = file->bos; bo != NULL; bo = bo->next) {
      if (va < (uint64_t)bo->va + bo->size + TSL_PAGE && bo->va < va + size + TSL_PAGE) {
        va = (uint64_t)bo->va + bo->size + TSL_PAGE;
        moved = true;
      }
    }
    if (!moved) return (uint32_t)va;
  }
}

static int ioctl_bo_create(struct tsl_file *file, struct tessel_bo_create *a) {
  struct tsl_dev *dev = file->dev;
  if (a->flags != 0 || a->pad != 0 || a->npu_read_only > 1) return -TSL_EINVAL;
  if (a->size == 0 || a->size > TESSEL_VA_RESERVED) return -TSL_EINVAL;
  const uint64_t size = pages_of(a->size) * TSL_PAGE;
  /* Fix (drvtest): `a->va + size` could wrap around 2^64 for a huge user va and pass the
   * range check, mapping a BO at (uint32_t)va inside the reserved range (the command
   * window). Compare without the addition: size <= TESSEL_VA_RESERVED here. */
  if (a->va != 0 && ((a->va & (TSL_PAGE - 1)) != 0 || a->va > TESSEL_VA_RESERVED - size)) {
    return -TSL_EINVAL;
  }
  if (a->va != 0 && overlaps(file, a->va, size)) return -TSL_EEXIST;
  const uint32_t va = a->va != 0 ? (uint32_t)a->va : choose_va(file, size);
  if (va == 0) return -TSL_ENOMEM;
  struct tsl_bo *bo = dev->port.ops->zalloc(sizeof *bo);
  if (bo == NULL) return -TSL_ENOMEM;
  bo->phys = tsl_pages_alloc(dev, size / TSL_PAGE);
  if (bo->phys == 0) {
    dev->port.ops->free(bo);
    return -TSL_ENOMEM;
  }
  if (tsl_map(file, va, bo->phys, size / TSL_PAGE, a->npu_read_only == 0) != 0) {
    tsl_pages_free(dev, bo->phys, size / TSL_PAGE);
    dev->port.ops->free(bo);
    return -TSL_ENOMEM;
  }
  bo->va = va;
  bo->size = size;
  bo->read_only = a->npu_read_only != 0;
  bo->handle = file->next_handle++;
  if (file->next_handle == 0) file->next_handle = 1;
  bo->next = file->bos;
  file->bos = bo;
  if (a->va == 0) file->next_va = va + (uint32_t)size + (uint32_t)TSL_PAGE;
  a->va = va;
  a->handle = bo->handle;
  return 0;
}

/* The mmap offset of a BO: its handle in the high word (a fake offset, as DRM does; the
 * physical address is never shown to user space). */
static int ioctl_bo_mmap(struct tsl_file *file, struct tessel_bo_mmap *a) {
  if (a->flags != 0) return -TSL_EINVAL;
  if (find_bo(file, a->handle) == NULL) return -TSL_ENOENT;
  a->offset = (uint64_t)a->handle << 32;
  return 0;
}

int tsl_mmap(struct tsl_file *file, uint64_t offset, uint64_t length, uint64_t *phys) {
  struct tsl_dev *dev = file->dev;
  lock(dev);
  int err = 0;
  struct tsl_bo *bo = (offset & 0xFFFFFFFFu) == 0 ? find_bo(file, (uint32_t)(offset >> 32)) : NULL;
  if (bo == NULL) {
    err = (offset & 0xFFFFFFFFu) == 0 ? -TSL_ENOENT : -TSL_EINVAL;
  } else if (length == 0 || length > bo->size) {
    err = -TSL_EINVAL;
  } else {
    *phys = bo->phys;
  }
  unlock(dev);
  return err;
}

static int ioctl_bo_destroy(struct tsl_file *file, struct tessel_bo_destroy *a) {
  if (a->flags != 0) return -TSL_EINVAL;
  struct tsl_bo **link = &file->bos;
  while (*link != NULL && (*link)->handle != a->handle) link = &(*link)->next;
  if (*link == NULL) return -TSL_ENOENT;
  struct tsl_bo *bo = *link;
  if (bo->busy != 0) return -TSL_EBUSY;
  *link = bo->next;
  destroy_bo(file, bo);
  return 0;
}

/* ------------------------------------------------------------------------ submit */

/* The user arrays are copied in before taking the lock; the BOs are resolved, the stream
 * copied out of its BO and validated under the lock, so no BO can go away meanwhile. */
static int ioctl_submit(struct tsl_file *file, struct tessel_submit *a) {
  struct tsl_dev *dev = file->dev;
  const struct tsl_port_ops *ops = dev->port.ops;
  a->fence = 0;
  a->error_offset = 0;
  a->error_reason = TESSEL_SUBMIT_OK;
  if (a->flags != 0) return -TSL_EINVAL;
  if (a->cmd_bytes == 0 || (a->cmd_bytes & 3) != 0 || (a->cmd_offset & 3) != 0 ||
      a->cmd_bytes > TESSEL_MAX_CMD_BYTES) {
    return -TSL_EINVAL;
  }
  if (a->bo_count > TESSEL_MAX_JOB_BOS || a->in_fence_count > TESSEL_MAX_IN_FENCES) {
    return -TSL_EINVAL;
  }
  uint32_t handles[TESSEL_MAX_JOB_BOS];
  uint64_t fences[TESSEL_MAX_IN_FENCES];
  if (a->bo_count != 0 && ops->copy_from_user(handles, a->bo_handles, a->bo_count * sizeof(uint32_t)))
    return -TSL_EFAULT;
  if (a->in_fence_count != 0 &&
      ops->copy_from_user(fences, a->in_fences, a->in_fence_count * sizeof(uint64_t)))
    return -TSL_EFAULT;

  struct tsl_job *job = ops->zalloc(sizeof *job);
  uint32_t *words = ops->zalloc(a->cmd_bytes);
  struct tsl_bo_range *ranges = ops->zalloc((a->bo_count + 1) * sizeof *ranges);
  struct tsl_bo **bos = ops->zalloc((a->bo_count + 1) * sizeof *bos);
  int err = job && words && ranges && bos ? 0 : -TSL_ENOMEM;

  lock(dev);
  struct tsl_bo *cmd_bo = err == 0 ? find_bo(file, a->cmd_handle) : NULL;
  if (err == 0 && cmd_bo == NULL) err = -TSL_ENOENT;
  if (err == 0 && (uint64_t)a->cmd_offset + a->cmd_bytes > cmd_bo->size) err = -TSL_EINVAL;
  for (uint32_t i = 0; err == 0 && i < a->bo_count; ++i) {
    bos[i] = find_bo(file, handles[i]);
    if (bos[i] == NULL) {
      err = -TSL_ENOENT;
      break;
    }
    ranges[i].va = bos[i]->va;
    ranges[i].size = bos[i]->size;
    ranges[i].read_only = bos[i]->read_only;
  }
  for (uint32_t i = 0; err == 0 && i < a->in_fence_count; ++i) {
    if (fences[i] == 0 || fences[i] >= dev->next_fence) err = -TSL_ENOENT;
  }
  if (err == 0 && dev->pending >= TESSEL_MAX_PENDING_JOBS) err = -TSL_EAGAIN;
  if (err == 0) {
    /* Copy the stream out of the BO now: what is validated is what runs. */
    ops->mem_read(dev->port.hw, cmd_bo->phys + a->cmd_offset, words, a->cmd_bytes);
    uint32_t bad = 0;
    const uint32_t why = tsl_validate(words, a->cmd_bytes / 4, ranges, a->bo_count, &bad);
    if (why != TESSEL_SUBMIT_OK) {
      a->error_offset = bad;
      a->error_reason = why;
      err = why == TESSEL_SUBMIT_OUT_OF_BOUNDS || why == TESSEL_SUBMIT_READ_ONLY ? -TSL_EACCES
                                                                              : -TSL_EINVAL;
      tsl_log(dev, TSL_LOG_INFO, "submit refused: reason %u at command offset %u", why, bad);
    }
  }
  if (err == 0) {
    job->cmd_phys = tsl_pages_alloc(dev, pages_of(a->cmd_bytes));
    if (job->cmd_phys == 0) err = -TSL_ENOMEM;
  }
  if (err == 0) {
    ops->mem_write(dev->port.hw, job->cmd_phys, words, a->cmd_bytes);
    job->file = file;
    job->ctx = file->ctx;
    job->fence = dev->next_fence++;
    job->hw_id = dev->next_hw_id++;
    job->status = TESSEL_JOB_QUEUED;
    job->cmd_bytes = a->cmd_bytes;
    job->timeout_ns = a->timeout_ns != 0 ? a->timeout_ns : TESSEL_DEFAULT_TIMEOUT_NS;
    job->bos = bos;
    job->bo_count = a->bo_count;
    for (uint32_t i = 0; i < a->bo_count; ++i) bos[i]->busy++;
    tsl_memcpy(job->deps, fences, a->in_fence_count * sizeof(uint64_t));
    job->dep_count = a->in_fence_count;
    if (dev->jobs_last != NULL) {
      dev->jobs_last->next = job;
    } else {
      dev->jobs = job;
    }
    dev->jobs_last = job;
    dev->pending++;
    a->fence = job->fence;
    bos = NULL;
    job = NULL;
    schedule(dev);
  }
  unlock(dev);
  ops->free(job);
  ops->free(bos);
  ops->free(ranges);
  ops->free(words);
  return err;
}

/* ------------------------------------------------------------------ wait / status */

static struct tsl_job *own_job(struct tsl_file *file, uint64_t fence) {
  struct tsl_job *job = find_job(file->dev, fence);
  return job != NULL && job->file == file ? job : NULL;
}

static int ioctl_wait(struct tsl_file *file, struct tessel_wait *a) {
  struct tsl_dev *dev = file->dev;
  if (a->flags != 0) return -TSL_EINVAL;
  const uint64_t start = dev->port.ops->host_time_ns(dev->port.hw);
  const uint64_t deadline = a->timeout_ns > ~0ull - start ? ~0ull : start + a->timeout_ns;
  for (;;) {
    struct tsl_job *job = own_job(file, a->fence);
    if (job == NULL) return -TSL_ENOENT;
    a->status = job->status;
    if (finished(job->status)) return 0;
    if (dev->port.ops->host_time_ns(dev->port.hw) >= deadline) return -TSL_ETIMEDOUT;
    dev->port.ops->cond_wait_until(dev->job_done, dev->lock, deadline);
  }
}

static int ioctl_job_status(struct tsl_file *file, struct tessel_job_status_args *a) {
  if (a->flags != 0) return -TSL_EINVAL;
  const struct tsl_job *job = own_job(file, a->fence);
  if (job == NULL) return -TSL_ENOENT;
  a->status = job->status;
  a->error_code = job->error_code;
  a->error_engine = job->error_engine;
  a->error_offset = job->error_offset;
  a->fault_addr = job->fault_addr;
  a->cycles = job->cycles;
  a->start_ns = job->start_ns;
  a->end_ns = job->end_ns;
  return 0;
}

static int ioctl_perf(struct tsl_file *file, struct tessel_perf *a, uint64_t *out,
                      uint32_t *count) {
  if (a->flags != 0 || a->count == 0) return -TSL_EINVAL;
  const struct tsl_job *job = own_job(file, a->fence);
  if (job == NULL) return -TSL_ENOENT;
  if (!finished(job->status)) return -TSL_EBUSY;
  *count = a->count < TESSEL_PERF_COUNT ? a->count : TESSEL_PERF_COUNT;
  tsl_memcpy(out, job->perf, *count * sizeof(uint64_t));
  return 0;
}

static int ioctl_get_param(struct tsl_file *file, struct tessel_get_param *a) {
  const struct tsl_dev *dev = file->dev;
  if (a->flags != 0) return -TSL_EINVAL;
  switch (a->param) {
    case TESSEL_PARAM_UAPI_VERSION:
      a->value = (uint64_t)TESSEL_UAPI_VERSION_MAJOR << 16 | TESSEL_UAPI_VERSION_MINOR;
      return 0;
    case TESSEL_PARAM_HW_ID: a->value = dev->hw_id; return 0;
    case TESSEL_PARAM_HW_VERSION: a->value = dev->hw_version; return 0;
    case TESSEL_PARAM_HW_CAPS: a->value = dev->hw_caps; return 0;
    case TESSEL_PARAM_MAC_ROWS: a->value = TESSEL_GET(dev->mac_shape, TESSEL_MAC_SHAPE_ROWS); return 0;
    case TESSEL_PARAM_MAC_COLS: a->value = TESSEL_GET(dev->mac_shape, TESSEL_MAC_SHAPE_COLS); return 0;
    case TESSEL_PARAM_SRAM_BYTES: a->value = (uint64_t)dev->sram_kib * 1024u; return 0;
    case TESSEL_PARAM_CLOCK_MHZ: a->value = dev->clock_mhz; return 0;
    case TESSEL_PARAM_CONFIG_HASH: a->value = dev->config_hash; return 0;
    case TESSEL_PARAM_DEVICE_MEMORY: a->value = dev->pages_free * TSL_PAGE; return 0;
    case TESSEL_PARAM_CONTEXTS: a->value = dev->contexts; return 0;
    case TESSEL_PARAM_NUM_PERF: a->value = TESSEL_PERF_COUNT; return 0;
    default: return -TSL_EINVAL;
  }
}

/* ------------------------------------------------------------------------ ioctl */

/* The argument structure of every ioctl, as the kernel sees it. */
union tsl_args {
  struct tessel_get_param get_param;
  struct tessel_bo_create bo_create;
  struct tessel_bo_mmap bo_mmap;
  struct tessel_bo_destroy bo_destroy;
  struct tessel_submit submit;
  struct tessel_wait wait;
  struct tessel_job_status_args job_status;
  struct tessel_perf perf;
};

long tsl_ioctl(struct tsl_file *file, uint32_t cmd, uint64_t arg) {
  struct tsl_dev *dev = file->dev;
  const struct tsl_port_ops *ops = dev->port.ops;
  /* Identify the command by everything but its size; the size must be at least the
   * oldest structure version (all are 1.0 today) and at most what this driver knows,
   * or larger with a zero tail (a newer user space asking for nothing new). */
  static const uint32_t known[] = {TESSEL_IOCTL_GET_PARAM, TESSEL_IOCTL_BO_CREATE,
                                   TESSEL_IOCTL_BO_MMAP,   TESSEL_IOCTL_BO_DESTROY,
                                   TESSEL_IOCTL_SUBMIT,    TESSEL_IOCTL_WAIT,
                                   TESSEL_IOCTL_JOB_STATUS, TESSEL_IOCTL_PERF};
  const uint32_t no_size = ~(0x3FFFu << 16);
  uint32_t def = 0;
  for (uint32_t i = 0; i < sizeof known / sizeof known[0]; ++i) {
    if ((known[i] & no_size) == (cmd & no_size)) def = known[i];
  }
  if (def == 0) return -TSL_ENOTTY;
  const uint32_t ksize = TESSEL_IOC_SIZE(def), usize = TESSEL_IOC_SIZE(cmd);
  if (usize < ksize) return -TSL_EINVAL;
  union tsl_args a;
  tsl_memset(&a, 0, sizeof a);
  if (ops->copy_from_user(&a, arg, ksize) != 0) return -TSL_EFAULT;
  for (uint32_t off = ksize; off < usize; ++off) {
    uint8_t byte;
    if (ops->copy_from_user(&byte, arg + off, 1) != 0) return -TSL_EFAULT;
    if (byte != 0) return -TSL_E2BIG;
  }
  long ret;
  uint64_t perf[TESSEL_PERF_COUNT];
  uint32_t perf_count = 0;
  if (def == TESSEL_IOCTL_SUBMIT) {
    ret = ioctl_submit(file, &a.submit); /* takes the lock itself */
  } else {
    lock(dev);
    switch (TESSEL_IOC_NR(def)) {
      case 0x00: ret = ioctl_get_param(file, &a.get_param); break;
      case 0x01: ret = ioctl_bo_create(file, &a.bo_create); break;
      case 0x02: ret = ioctl_bo_mmap(file, &a.bo_mmap); break;
      case 0x03: ret = ioctl_bo_destroy(file, &a.bo_destroy); break;
      case 0x05: ret = ioctl_wait(file, &a.wait); break;
      case 0x06: ret = ioctl_job_status(file, &a.job_status); break;
      case 0x07: ret = ioctl_perf(file, &a.perf, perf, &perf_count); break;
      default: ret = -TSL_ENOTTY; break;
    }
    unlock(dev);
  }
  if (perf_count != 0 && ops->copy_to_user(a.perf.values, perf, perf_count * sizeof(uint64_t)))
    return -TSL_EFAULT;
  /* Results go back for read-direction commands, also on failure (SUBMIT reports why). */
  if ((TESSEL_IOC_DIR(def) & TESSEL_IOC_READ) && (ret == 0 || def == TESSEL_IOCTL_SUBMIT || def == TESSEL_IOCTL_WAIT)) {
    if (ops->copy_to_user(arg, &a, ksize) != 0) return -TSL_EFAULT;
  }
  return ret;
}
