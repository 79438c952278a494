/* SPDX-License-Identifier: MIT */
/*
 * Tessel NPU accelerator driver: the user/kernel interface (UAPI).
 *
 * Shaped like a Linux accel driver: a process opens the device node (one open file = one
 * context = one NPU address space), creates buffer objects (BOs) in device memory, maps
 * them into its own address space with mmap, submits jobs (a command stream in a BO plus
 * the list of BOs the job may touch) and waits for them. The same interface is served by
 * the in-process simulator port (driver/sim/), where `ioctl` and `mmap` are the functions
 * of tessel_sim.h; docs/driver.md describes both, the job lifecycle and error recovery.
 *
 * Versioning: TESSEL_UAPI_VERSION_MAJOR.MINOR (query TESSEL_PARAM_UAPI_VERSION).
 * Rules, as in Linux UAPIs:
 *   - structures are append-only: new fields go at the end, old ones never change;
 *     the ioctl number encodes the structure size, and the driver accepts a shorter
 *     (older) structure by treating the missing tail as zero;
 *   - every `flags` field must be zero unless a flag is defined for it (none are in 1.0):
 *     a non-zero value is refused with -EINVAL, so flags can be added later safely;
 *   - every `pad` field must be zero;
 *   - user pointers are passed as __u64 (the same layout on 32- and 64-bit processes).
 *
 * Errors are negative errno values (Linux numbering): each ioctl lists the ones it
 * returns and why.
 */
#ifndef TESSEL_ACCEL_H
#define TESSEL_ACCEL_H

#if defined(__KERNEL__)
#include <linux/types.h>
#else
#include <stdint.h>
typedef uint32_t __u32;
typedef uint64_t __u64;
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define TESSEL_UAPI_VERSION_MAJOR 1
#define TESSEL_UAPI_VERSION_MINOR 0

/* ---- ioctl numbers ------------------------------------------------------------------
 * Linux _IOC encoding: bits 31:30 direction (1 write, 2 read), 29:16 argument size,
 * 15:8 type ('T'), 7:0 number. Spelled out here so the header needs no kernel headers. */
#define TESSEL_IOC_WRITE 1u
#define TESSEL_IOC_READ 2u
#define TESSEL_IOC(dir, nr, size) \
  ((__u32)(((dir) << 30) | (((__u32)(size) & 0x3FFFu) << 16) | (0x54u << 8) | (nr)))
#define TESSEL_IOC_NR(cmd) ((cmd) & 0xFFu)
#define TESSEL_IOC_TYPE(cmd) (((cmd) >> 8) & 0xFFu)
#define TESSEL_IOC_SIZE(cmd) (((cmd) >> 16) & 0x3FFFu)
#define TESSEL_IOC_DIR(cmd) ((cmd) >> 30)
#define TESSEL_IOWR(nr, type) TESSEL_IOC(TESSEL_IOC_WRITE | TESSEL_IOC_READ, nr, sizeof(type))
#define TESSEL_IOW(nr, type) TESSEL_IOC(TESSEL_IOC_WRITE, nr, sizeof(type))

/* ---- GET_PARAM: device parameters and capabilities ------------------------------------
 * In: param. Out: value. -EINVAL: unknown param, flags or pad non-zero. */
enum tessel_param {
  TESSEL_PARAM_UAPI_VERSION = 0,   /* (major << 16) | minor of this header's interface */
  TESSEL_PARAM_HW_ID = 1,          /* ID register (0x4E534554 'TESN') */
  TESSEL_PARAM_HW_VERSION = 2,     /* hardware-contract version (VERSION register) */
  TESSEL_PARAM_HW_CAPS = 3,        /* CAPS register */
  TESSEL_PARAM_MAC_ROWS = 4,
  TESSEL_PARAM_MAC_COLS = 5,
  TESSEL_PARAM_SRAM_BYTES = 6,
  TESSEL_PARAM_CLOCK_MHZ = 7,
  TESSEL_PARAM_CONFIG_HASH = 8,    /* low 32 bits of the hardware-configuration hash */
  TESSEL_PARAM_DEVICE_MEMORY = 9,  /* bytes of device memory available to buffer objects */
  TESSEL_PARAM_CONTEXTS = 10,      /* contexts (open files) the device can hold at once */
  TESSEL_PARAM_NUM_PERF = 11,      /* performance counters per job (TESSEL_IOCTL_PERF) */
  TESSEL_PARAM_COUNT
};

struct tessel_get_param {
  __u32 param;  /* in: enum tessel_param */
  __u32 flags;  /* in: 0 */
  __u64 value;  /* out */
};

/* ---- BO_CREATE: a buffer object in device memory, mapped into this context ----------
 * In: size (bytes, > 0; rounded up to 4 KiB pages), va (NPU virtual address to map it
 * at, 4 KiB aligned, or 0 to let the driver choose), npu_read_only (1: the NPU may only
 * read it). Out: handle (non-zero), va (where it is mapped).
 * -EINVAL: size 0, va misaligned, range beyond the 32-bit NPU space or in the driver's
 *          reserved range (>= TESSEL_VA_RESERVED), npu_read_only not 0/1, flags/pad;
 * -EEXIST: [va, va + size) overlaps another BO of this context;
 * -ENOMEM: no device memory (or no free NPU addresses) left. */
#define TESSEL_VA_RESERVED 0xFF000000u /* NPU addresses the driver keeps for itself */

struct tessel_bo_create {
  __u64 size;           /* in */
  __u64 va;             /* in: requested address or 0; out: the address */
  __u32 npu_read_only;  /* in: 0 or 1 */
  __u32 flags;          /* in: 0 */
  __u32 handle;         /* out */
  __u32 pad;            /* 0 */
};

/* ---- BO_MMAP: the offset to pass to mmap() to map a BO into the process -------------
 * In: handle. Out: offset (use with length = the BO's size).
 * -ENOENT: no such BO in this context; -EINVAL: flags. */
struct tessel_bo_mmap {
  __u32 handle;  /* in */
  __u32 flags;   /* in: 0 */
  __u64 offset;  /* out */
};

/* ---- BO_DESTROY ---------------------------------------------------------------------
 * -ENOENT: no such BO; -EBUSY: a job that lists it has not finished; -EINVAL: flags. */
struct tessel_bo_destroy {
  __u32 handle;  /* in */
  __u32 flags;   /* in: 0 */
};

/* ---- SUBMIT: queue a job --------------------------------------------------------------
 * The command stream is cmd_bytes bytes at cmd_offset in BO cmd_handle (4-byte aligned,
 * ending with END). The driver validates it before accepting the job: every command
 * well-formed (known opcode, right length, reserved fields zero), and every DMA's whole
 * footprint inside one of the BOs listed in bo_handles (stores: a writable one). The
 * validated stream is copied, so later writes to the BO do not affect the job.
 * in_fences: fences of earlier jobs (of any context of this device) that must finish
 * before this one starts; a job whose dependency did not complete successfully is
 * cancelled (status TESSEL_JOB_CANCELLED).
 * timeout_ns: the longest the job may run, in device time (0: TESSEL_DEFAULT_TIMEOUT_NS);
 * a job still running after it is stopped, the device reset (status TESSEL_JOB_TIMEOUT).
 * Out: fence (identifies the job for WAIT, JOB_STATUS and PERF; never 0).
 * On -EINVAL from validation, error_offset is the byte offset of the refused command in
 * the stream and error_reason one of enum tessel_submit_error.
 * -EINVAL: flags/pad, cmd range outside the BO, misaligned, empty, longer than
 *          TESSEL_MAX_CMD_BYTES, more than TESSEL_MAX_JOB_BOS BOs or
 *          TESSEL_MAX_IN_FENCES fences, or an invalid command;
 * -ENOENT: an unknown BO handle or fence; -EFAULT: an unreadable user pointer;
 * -EACCES: a DMA addresses memory outside the listed BOs, or stores to a read-only BO;
 * -ENOMEM: out of memory for the job; -EAGAIN: TESSEL_MAX_PENDING_JOBS already queued. */
#define TESSEL_DEFAULT_TIMEOUT_NS 2000000000ull
#define TESSEL_MAX_CMD_BYTES (16u << 20)
#define TESSEL_MAX_JOB_BOS 256u
#define TESSEL_MAX_IN_FENCES 16u
#define TESSEL_MAX_PENDING_JOBS 64u

enum tessel_submit_error {
  TESSEL_SUBMIT_OK = 0,
  TESSEL_SUBMIT_BAD_OPCODE = 1,     /* unknown opcode */
  TESSEL_SUBMIT_BAD_LENGTH = 2,     /* header length wrong, or command runs past the end */
  TESSEL_SUBMIT_BAD_FIELD = 3,      /* reserved bits set, or a zero DMA dimension */
  TESSEL_SUBMIT_NO_END = 4,         /* the stream does not end with END */
  TESSEL_SUBMIT_OUT_OF_BOUNDS = 5,  /* a DMA footprint outside the listed BOs */
  TESSEL_SUBMIT_READ_ONLY = 6       /* a DMA_STORE into a read-only BO */
};

struct tessel_submit {
  __u32 cmd_handle;      /* in */
  __u32 cmd_offset;      /* in: bytes, 4-aligned */
  __u32 cmd_bytes;       /* in */
  __u32 bo_count;        /* in */
  __u64 bo_handles;      /* in: user pointer to __u32[bo_count] */
  __u64 in_fences;       /* in: user pointer to __u64[in_fence_count] */
  __u32 in_fence_count;  /* in */
  __u32 flags;           /* in: 0 */
  __u64 timeout_ns;      /* in: device-time budget, 0 = default */
  __u64 fence;           /* out */
  __u32 error_offset;    /* out: on validation failure */
  __u32 error_reason;    /* out: enum tessel_submit_error */
};

/* ---- WAIT: block until a job finishes (successfully or not) -------------------------
 * timeout_ns is host time, relative; 0 polls. Out: status (enum tessel_job_status).
 * Returns 0 when the job has finished, -ETIMEDOUT when it has not within timeout_ns
 * (the job goes on), -ENOENT for an unknown fence, -EINVAL for flags. */
struct tessel_wait {
  __u64 fence;       /* in */
  __u64 timeout_ns;  /* in: host nanoseconds */
  __u32 flags;       /* in: 0 */
  __u32 status;      /* out */
};

/* ---- JOB_STATUS: what happened to a job ----------------------------------------------
 * -ENOENT: unknown fence (or the job's record was dropped: the driver keeps the last
 * TESSEL_JOB_HISTORY finished jobs per context); -EINVAL: flags. */
#define TESSEL_JOB_HISTORY 256u

enum tessel_job_status {
  TESSEL_JOB_QUEUED = 0,       /* waiting for the device or its in-fences */
  TESSEL_JOB_RUNNING = 1,
  TESSEL_JOB_DONE = 2,         /* reached END */
  TESSEL_JOB_MMU_FAULT = 3,    /* fault_addr: the NPU virtual address; error_offset */
  TESSEL_JOB_INVALID_COMMAND = 4, /* the device refused a command; error_code, offset */
  TESSEL_JOB_TIMEOUT = 5,      /* ran longer than its timeout; the device was reset */
  TESSEL_JOB_DMA_ERROR = 6,    /* the memory system failed a DMA; fault_addr */
  TESSEL_JOB_CANCELLED = 7     /* an in-fence failed, or its context was closed */
};

struct tessel_job_status_args {
  __u64 fence;         /* in */
  __u32 flags;         /* in: 0 */
  __u32 status;        /* out: enum tessel_job_status */
  __u32 error_code;    /* out: the device's ERROR_CODE (docs/isa.md), 0 if none */
  __u32 error_engine;  /* out: the device's ENGINE that failed */
  __u32 error_offset;  /* out: byte offset of the failing command in the stream */
  __u32 fault_addr;    /* out: NPU virtual address (MMU fault, DMA error) */
  __u64 cycles;        /* out: device cycles from start to end (0 until finished) */
  __u64 start_ns;      /* out: device time when it started. Device time counts from 0
                        * (the simulator's stands still while the device is idle), so 0
                        * is a legitimate start for the first job on a fresh device, and
                        * also what a job that never started reports: `status`, not
                        * start_ns, says whether a job started */
  __u64 end_ns;        /* out: device time when it finished */
};

/* ---- PERF: a finished job's performance counters -------------------------------------
 * Copies min(count, TESSEL_PARAM_NUM_PERF) counters (the device's PERF registers, as
 * deltas over the job, in the order of docs/isa.md enum PERF) to values.
 * -ENOENT: unknown fence; -EBUSY: the job has not finished; -EFAULT: bad pointer;
 * -EINVAL: flags, count 0. */
struct tessel_perf {
  __u64 fence;   /* in */
  __u64 values;  /* in: user pointer to __u64[count] */
  __u32 count;   /* in */
  __u32 flags;   /* in: 0 */
};

#define TESSEL_IOCTL_GET_PARAM TESSEL_IOWR(0x00, struct tessel_get_param)
#define TESSEL_IOCTL_BO_CREATE TESSEL_IOWR(0x01, struct tessel_bo_create)
#define TESSEL_IOCTL_BO_MMAP TESSEL_IOWR(0x02, struct tessel_bo_mmap)
#define TESSEL_IOCTL_BO_DESTROY TESSEL_IOW(0x03, struct tessel_bo_destroy)
#define TESSEL_IOCTL_SUBMIT TESSEL_IOWR(0x04, struct tessel_submit)
#define TESSEL_IOCTL_WAIT TESSEL_IOWR(0x05, struct tessel_wait)
#define TESSEL_IOCTL_JOB_STATUS TESSEL_IOWR(0x06, struct tessel_job_status_args)
#define TESSEL_IOCTL_PERF TESSEL_IOW(0x07, struct tessel_perf)

#ifdef __cplusplus
}
#endif

#endif /* TESSEL_ACCEL_H */
