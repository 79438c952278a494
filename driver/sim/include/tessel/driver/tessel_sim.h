/* SPDX-License-Identifier: MIT */
/*
 * C entry points of the in-process simulator port: the "system calls" of a process that
 * uses the Tessel UAPI (tessel_accel.h) against a simulated NPU instead of /dev/accel.
 *
 *   struct tessel_sim *sim = tessel_sim_create("default", err, sizeof err);
 *   int fd = tessel_sim_open(sim);
 *   struct tessel_bo_create bo = {.size = 4096};
 *   tessel_sim_ioctl(sim, fd, TESSEL_IOCTL_BO_CREATE, &bo);
 *   ...
 *   tessel_sim_close(sim, fd);
 *   tessel_sim_destroy(sim);
 *
 * Return values follow the kernel convention of the driver core: 0 or a negative errno
 * (the simulator does not go through errno).
 */
#ifndef TESSEL_SIM_H
#define TESSEL_SIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tessel_sim;

/* A simulated device from a preset name (`tessel presets`) or a configuration file.
 * NULL on failure, with the reason in err (if err_bytes > 0). */
struct tessel_sim *tessel_sim_create(const char *preset_or_file, char *err, size_t err_bytes);
void tessel_sim_destroy(struct tessel_sim *sim);
int tessel_sim_open(struct tessel_sim *sim);
int tessel_sim_close(struct tessel_sim *sim, int fd);
int tessel_sim_ioctl(struct tessel_sim *sim, int fd, uint32_t cmd, void *arg);
/* NULL on failure, with the negative errno in *err if err is not NULL. */
void *tessel_sim_mmap(struct tessel_sim *sim, int fd, uint64_t offset, uint64_t length, int *err);

#ifdef __cplusplus
}
#endif

#endif /* TESSEL_SIM_H */
