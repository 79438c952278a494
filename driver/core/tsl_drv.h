/* SPDX-License-Identifier: MIT */
/*
 * The Tessel driver core's entry points: what a port (a Linux module's file operations
 * and interrupt handler, or the simulator port) calls. The user-facing interface is the
 * UAPI (driver/include/uapi/tessel_accel.h), served by tsl_ioctl().
 */
#ifndef TSL_DRV_H
#define TSL_DRV_H

#include "tsl_port.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tsl_dev;
struct tsl_file;

/* Probes the device behind `port`: checks the identification and that the hardware
 * contract's major version equals the one the driver was built against (and its minor is
 * at least as new), resets it, sets up the job ring and interrupts. `mem_bytes`: the
 * size of device memory (physical addresses [0, mem_bytes)). 0 or -errno (-TSL_ENODEV:
 * not a Tessel NPU or an incompatible version, logged). */
int tsl_probe(const struct tsl_port *port, uint64_t mem_bytes, struct tsl_dev **out);
/* Cancels every job, resets the device and frees everything. No file may be open. */
void tsl_remove(struct tsl_dev *dev);

/* open(): a new context (its own NPU address space). -TSL_EBUSY when every hardware
 * context is taken. */
int tsl_open(struct tsl_dev *dev, struct tsl_file **out);
/* close(): cancels the context's queued jobs, stops its running job (device reset),
 * frees its buffer objects and page tables. */
void tsl_release(struct tsl_file *file);

/* ioctl(): `arg` is the user pointer to the command's structure. 0 or -errno. */
long tsl_ioctl(struct tsl_file *file, uint32_t cmd, uint64_t arg);

/* mmap(): resolves an offset from TESSEL_IOCTL_BO_MMAP and a length to the BO's
 * physical address in device memory. 0, -TSL_EINVAL (bad offset or length beyond the
 * BO) or -TSL_ENOENT. The mapping stays valid until the BO is destroyed. */
int tsl_mmap(struct tsl_file *file, uint64_t offset, uint64_t length, uint64_t *phys);

/* Interrupt handler and watchdog (see tsl_port.h). */
void tsl_irq(struct tsl_dev *dev);
void tsl_watchdog(struct tsl_dev *dev);

/* Hardware context (0-based) of an open file; for the simulator's tests. */
uint32_t tsl_file_context(const struct tsl_file *file);

#ifdef __cplusplus
}
#endif

#endif /* TSL_DRV_H */
