/* SPDX-License-Identifier: MIT */
/*
 * What the Tessel driver core needs from its environment: the port.
 *
 * The core (tsl_*.c) is C11 and uses nothing from libc; everything that depends on where
 * it runs comes through struct tsl_port_ops:
 *
 *   port op            Linux kernel module              in-process simulator (driver/sim)
 *   reg_read/write     readl/writel on the BAR          TLM transactions on the device
 *   mem_read/write     memcpy_fromio/toio (VRAM)        the simulated DRAM's bytes
 *   device_time_ns     ktime_get_ns                     the device's simulated clock
 *   host_time_ns       ktime_get_ns                     CLOCK_MONOTONIC
 *   zalloc/free        kzalloc/kfree                    calloc/free
 *   mutex_*            struct mutex                     std::mutex
 *   cond_*             wait_event_timeout/wake_up_all   std::condition_variable
 *   copy_*_user        copy_from_user/copy_to_user      memcpy, NULL -> -EFAULT
 *   log                dev_printk                       captured, readable by tests
 *
 * Interrupts: the port calls tsl_irq() when the device's interrupt line is high (from
 * the interrupt thread, never with a core lock held), and tsl_watchdog() periodically
 * (at least every millisecond of device time while a job runs).
 */
#ifndef TSL_PORT_H
#define TSL_PORT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Linux errno values: the ioctl boundary returns them negated. */
#define TSL_ENOENT 2
#define TSL_EIO 5
#define TSL_E2BIG 7
#define TSL_EAGAIN 11
#define TSL_ENOMEM 12
#define TSL_EACCES 13
#define TSL_EFAULT 14
#define TSL_EBUSY 16
#define TSL_EEXIST 17
#define TSL_ENODEV 19
#define TSL_EINVAL 22
#define TSL_ENOTTY 25
#define TSL_ENOSPC 28
#define TSL_ETIMEDOUT 110

#define TSL_LOG_ERR 3
#define TSL_LOG_WARN 4
#define TSL_LOG_INFO 6
#define TSL_LOG_DEBUG 7

#define tsl_memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define tsl_memset(d, c, n) __builtin_memset((d), (c), (n))

struct tsl_mutex;
struct tsl_cond;

struct tsl_port_ops {
  uint32_t (*reg_read)(void *hw, uint32_t offset);
  void (*reg_write)(void *hw, uint32_t offset, uint32_t value);
  void (*mem_read)(void *hw, uint64_t phys, void *dst, size_t n);
  void (*mem_write)(void *hw, uint64_t phys, const void *src, size_t n);
  uint64_t (*device_time_ns)(void *hw);
  uint64_t (*host_time_ns)(void *hw);
  void *(*zalloc)(size_t n); /* zeroed; NULL when out of memory */
  void (*free)(void *p);     /* accepts NULL */
  struct tsl_mutex *(*mutex_create)(void);
  void (*mutex_destroy)(struct tsl_mutex *m);
  void (*mutex_lock)(struct tsl_mutex *m);
  void (*mutex_unlock)(struct tsl_mutex *m);
  struct tsl_cond *(*cond_create)(void);
  void (*cond_destroy)(struct tsl_cond *c);
  /* Releases m, sleeps until cond_broadcast or host time deadline_ns (spurious wake-ups
   * allowed), re-acquires m. */
  void (*cond_wait_until)(struct tsl_cond *c, struct tsl_mutex *m, uint64_t deadline_ns);
  void (*cond_broadcast)(struct tsl_cond *c);
  /* 0, or -TSL_EFAULT when the user range is not accessible. */
  int (*copy_from_user)(void *dst, uint64_t user_ptr, size_t n);
  int (*copy_to_user)(uint64_t user_ptr, const void *src, size_t n);
  void (*log)(void *hw, int level, const char *fmt, va_list args);
  /* Optional (NULL in production): called with the physical address of a validated,
   * copied command stream just before the job is handed to the device. The simulator's
   * fault injection uses it to corrupt a command after validation. */
  void (*job_ready)(void *hw, uint64_t cmd_phys, uint32_t cmd_bytes);
};

struct tsl_port {
  const struct tsl_port_ops *ops;
  void *hw; /* passed back to the register, memory, time and log ops */
};

#endif /* TSL_PORT_H */
