// The C API of tessel_runtime.h over tessel::rt.
#include "tessel/runtime/tessel_runtime.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <future>
#include <memory>
#include <string>

#include "tessel/compiler/loadable.hpp"
#include "tessel/runtime/runtime.hpp"

struct tessel_rt_device {
  std::shared_ptr<tessel::rt::Device> device;
};

struct tessel_rt_model {
  std::unique_ptr<tessel::rt::Model> model;
  tessel::rt::RunResult last;
  std::future<tessel::rt::RunResult> pending;
};

namespace {

int fail(char* err, size_t n, const std::string& msg) {
  if (err != nullptr && n > 0) std::snprintf(err, n, "%s", msg.c_str());
  return -1;
}

// Runs `fn`, turning an exception into -1 and its message.
template <class F>
int guarded(char* err, size_t n, F&& fn) {
  try {
    fn();
    return 0;
  } catch (const std::exception& e) {
    return fail(err, n, e.what());
  }
}

}  // namespace

extern "C" {

tessel_rt_device* tessel_rt_open(const char* uri, char* err, size_t err_bytes) {
  if (uri == nullptr) return fail(err, err_bytes, "tessel_rt_open: no URI"), nullptr;
  auto* d = new tessel_rt_device;
  if (guarded(err, err_bytes, [&] { d->device = tessel::rt::Device::open(uri); }) != 0) {
    delete d;
    return nullptr;
  }
  return d;
}

void tessel_rt_close(tessel_rt_device* dev) { delete dev; }

tessel_rt_model* tessel_rt_load(tessel_rt_device* dev, const char* path, char* err, size_t err_bytes) {
  if (dev == nullptr || path == nullptr) return fail(err, err_bytes, "tessel_rt_load: no device or path"), nullptr;
  auto* m = new tessel_rt_model;
  if (guarded(err, err_bytes, [&] {
        m->model = std::make_unique<tessel::rt::Model>(dev->device, tessel::compiler::load_loadable(path));
      }) != 0) {
    delete m;
    return nullptr;
  }
  return m;
}

void tessel_rt_unload(tessel_rt_model* model) {
  if (model != nullptr && model->pending.valid()) model->pending.wait();
  delete model;
}

size_t tessel_rt_num_inputs(const tessel_rt_model* m) { return m ? m->model->num_inputs() : 0; }
size_t tessel_rt_num_outputs(const tessel_rt_model* m) { return m ? m->model->num_outputs() : 0; }

size_t tessel_rt_input_bytes(const tessel_rt_model* m, size_t i) {
  return m && i < m->model->num_inputs() ? m->model->input(i).bytes : 0;
}

size_t tessel_rt_output_bytes(const tessel_rt_model* m, size_t i) {
  return m && i < m->model->num_outputs() ? m->model->output(i).bytes : 0;
}

int tessel_rt_set_input(tessel_rt_model* m, size_t i, const void* data, size_t bytes, char* err,
                        size_t err_bytes) {
  if (m == nullptr || data == nullptr) return fail(err, err_bytes, "tessel_rt_set_input: no model or data");
  return guarded(err, err_bytes, [&] { m->model->set_input(i, data, bytes); });
}

int tessel_rt_invoke(tessel_rt_model* m, char* err, size_t err_bytes) {
  if (m == nullptr) return fail(err, err_bytes, "tessel_rt_invoke: no model");
  if (m->pending.valid()) return fail(err, err_bytes, "tessel_rt_invoke: an asynchronous inference is pending");
  return guarded(err, err_bytes, [&] { m->last = m->model->run(); });
}

int tessel_rt_invoke_async(tessel_rt_model* m, char* err, size_t err_bytes) {
  if (m == nullptr) return fail(err, err_bytes, "tessel_rt_invoke_async: no model");
  if (m->pending.valid()) return fail(err, err_bytes, "tessel_rt_invoke_async: one is already pending");
  return guarded(err, err_bytes, [&] { m->pending = m->model->run_async(); });
}

int tessel_rt_wait(tessel_rt_model* m, char* err, size_t err_bytes) {
  if (m == nullptr || !m->pending.valid()) return fail(err, err_bytes, "tessel_rt_wait: nothing pending");
  return guarded(err, err_bytes, [&] { m->last = m->pending.get(); });
}

int tessel_rt_get_output(const tessel_rt_model* m, size_t i, void* data, size_t bytes, char* err,
                         size_t err_bytes) {
  if (m == nullptr || data == nullptr) return fail(err, err_bytes, "tessel_rt_get_output: no model or buffer");
  if (i >= m->last.outputs.size()) {
    return fail(err, err_bytes, "tessel_rt_get_output: output " + std::to_string(i) +
                                    " does not exist or no inference has finished");
  }
  if (bytes != m->last.outputs[i].size()) {
    return fail(err, err_bytes, "tessel_rt_get_output: output " + std::to_string(i) + " has " +
                                    std::to_string(m->last.outputs[i].size()) + " bytes, not " +
                                    std::to_string(bytes));
  }
  std::memcpy(data, m->last.outputs[i].data(), bytes);
  return 0;
}

uint64_t tessel_rt_last_cycles(const tessel_rt_model* m) { return m ? m->last.npu_cycles : 0; }

}  // extern "C"
