/* SPDX-License-Identifier: MIT */
/*
 * The Tessel runtime's C API: the core calls of tessel/runtime/runtime.hpp for C callers
 * and other languages' bindings.
 *
 *   char err[512];
 *   tessel_rt_device *dev = tessel_rt_open("sim://default", err, sizeof err);
 *   tessel_rt_model *m = tessel_rt_load(dev, "mobilenet.tsl", err, sizeof err);
 *   tessel_rt_set_input(m, 0, image, image_bytes, err, sizeof err);
 *   tessel_rt_invoke(m, err, sizeof err);           (or tessel_rt_invoke_async + _wait)
 *   tessel_rt_get_output(m, 0, out, out_bytes, err, sizeof err);
 *   tessel_rt_unload(m);
 *   tessel_rt_close(dev);
 *
 * Every call that can fail returns 0 on success and -1 on failure, with a message in
 * err (when err_bytes > 0). Handles are not thread-safe individually except that
 * different models may be used from different threads.
 */
#ifndef TESSEL_RUNTIME_H
#define TESSEL_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tessel_rt_device tessel_rt_device;
typedef struct tessel_rt_model tessel_rt_model;

/* "sim://PRESET" or "sim://CONFIG.yaml". NULL on failure. */
tessel_rt_device *tessel_rt_open(const char *uri, char *err, size_t err_bytes);
void tessel_rt_close(tessel_rt_device *dev); /* after every model is unloaded */

/* Loads a compiled .tsl; refuses one compiled for another hardware configuration. */
tessel_rt_model *tessel_rt_load(tessel_rt_device *dev, const char *tsl_path, char *err,
                                size_t err_bytes);
void tessel_rt_unload(tessel_rt_model *model);

size_t tessel_rt_num_inputs(const tessel_rt_model *model);
size_t tessel_rt_num_outputs(const tessel_rt_model *model);
size_t tessel_rt_input_bytes(const tessel_rt_model *model, size_t index);  /* 0: bad index */
size_t tessel_rt_output_bytes(const tessel_rt_model *model, size_t index); /* 0: bad index */

int tessel_rt_set_input(tessel_rt_model *model, size_t index, const void *data, size_t bytes,
                        char *err, size_t err_bytes);
/* Runs one inference synchronously. */
int tessel_rt_invoke(tessel_rt_model *model, char *err, size_t err_bytes);
/* Starts one inference on another thread; tessel_rt_wait finishes it (and reports its
 * error). At most one asynchronous inference per model at a time. */
int tessel_rt_invoke_async(tessel_rt_model *model, char *err, size_t err_bytes);
int tessel_rt_wait(tessel_rt_model *model, char *err, size_t err_bytes);
/* Output of the last finished inference; `bytes` must equal the output's size. */
int tessel_rt_get_output(const tessel_rt_model *model, size_t index, void *data, size_t bytes,
                         char *err, size_t err_bytes);
/* NPU cycles of the last finished inference (0 before the first). */
uint64_t tessel_rt_last_cycles(const tessel_rt_model *model);

#ifdef __cplusplus
}
#endif

#endif /* TESSEL_RUNTIME_H */
