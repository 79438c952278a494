// The C entry points of tessel_sim.h over SimNpu.
#include "tessel/driver/tessel_sim.h"

#include <cerrno>
#include <cstdio>
#include <exception>
#include <memory>

#include "tessel/driver/sim_npu.hpp"

struct tessel_sim {
  std::unique_ptr<tessel::driver::SimNpu> npu;
};

extern "C" {

tessel_sim* tessel_sim_create(const char* preset_or_file, char* err, size_t err_bytes) {
  try {
    if (preset_or_file == nullptr) throw std::invalid_argument("no preset or file given");
    auto* sim = new tessel_sim;
    sim->npu = std::make_unique<tessel::driver::SimNpu>(
        tessel::sim::npu::load_npu_preset_or_file(preset_or_file));
    return sim;
  } catch (const std::exception& e) {
    if (err != nullptr && err_bytes > 0) std::snprintf(err, err_bytes, "%s", e.what());
    return nullptr;
  }
}

void tessel_sim_destroy(tessel_sim* sim) { delete sim; }

int tessel_sim_open(tessel_sim* sim) { return sim ? sim->npu->open() : -EINVAL; }

int tessel_sim_close(tessel_sim* sim, int fd) { return sim ? sim->npu->close(fd) : -EINVAL; }

int tessel_sim_ioctl(tessel_sim* sim, int fd, uint32_t cmd, void* arg) {
  return sim ? sim->npu->ioctl(fd, cmd, arg) : -EINVAL;
}

void* tessel_sim_mmap(tessel_sim* sim, int fd, uint64_t offset, uint64_t length, int* err) {
  if (sim == nullptr) {
    if (err != nullptr) *err = -EINVAL;
    return nullptr;
  }
  return sim->npu->mmap(fd, offset, length, err);
}

}  // extern "C"
