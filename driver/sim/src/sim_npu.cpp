#include "tessel/driver/sim_npu.hpp"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "tessel/ir/error.hpp"
#include "tsl_drv.h"

struct tsl_mutex {
  std::mutex m;
};
struct tsl_cond {
  std::condition_variable_any cv;
};

namespace tessel::driver {

struct SimNpu::Thread {
  std::condition_variable work;  // with device_mu_: doorbell, or stop
  bool stop = false;             // device_mu_
  std::thread thread;
};

// The port: every op receives the SimNpu as `hw`.
struct SimNpu::Port {
  static SimNpu& npu(void* hw) { return *static_cast<SimNpu*>(hw); }

  static uint32_t reg_read(void* hw, uint32_t offset) {
    SimNpu& s = npu(hw);
    std::lock_guard<std::mutex> lock(s.device_mu_);
    return s.device_.read_reg(offset);
  }
  static void reg_write(void* hw, uint32_t offset, uint32_t value) {
    SimNpu& s = npu(hw);
    {
      std::lock_guard<std::mutex> lock(s.device_mu_);
      s.device_.write_reg(offset, value);
    }
    s.thread_->work.notify_all();  // a doorbell (or reset) may have given it work
  }
  static void mem_read(void* hw, uint64_t phys, void* dst, size_t n) {
    SimNpu& s = npu(hw);
    std::lock_guard<std::mutex> lock(s.device_mu_);
    s.device_.memory().read(phys, dst, n);
  }
  static void mem_write(void* hw, uint64_t phys, const void* src, size_t n) {
    SimNpu& s = npu(hw);
    std::lock_guard<std::mutex> lock(s.device_mu_);
    s.device_.memory().write(phys, src, n);
  }
  static uint64_t device_time_ns(void* hw) {
    SimNpu& s = npu(hw);
    std::lock_guard<std::mutex> lock(s.device_mu_);
    return s.device_.now() * 1000 / s.config_.clock_mhz;
  }
  static uint64_t host_time_ns(void*) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }
  static void* zalloc(size_t n) { return std::calloc(1, n == 0 ? 1 : n); }
  static void free(void* p) { std::free(p); }
  static tsl_mutex* mutex_create() { return new (std::nothrow) tsl_mutex; }
  static void mutex_destroy(tsl_mutex* m) { delete m; }
  static void mutex_lock(tsl_mutex* m) { m->m.lock(); }
  static void mutex_unlock(tsl_mutex* m) { m->m.unlock(); }
  static tsl_cond* cond_create() { return new (std::nothrow) tsl_cond; }
  static void cond_destroy(tsl_cond* c) { delete c; }
  static void cond_wait_until(tsl_cond* c, tsl_mutex* m, uint64_t deadline_ns) {
    const uint64_t now = host_time_ns(nullptr);
    if (deadline_ns <= now) return;
    // Wait in bounded steps: a far deadline (UINT64_MAX) must not overflow the clock.
    const uint64_t wait = std::min<uint64_t>(deadline_ns - now, 1000000000ull);
    c->cv.wait_for(m->m, std::chrono::nanoseconds(wait));
  }
  static void cond_broadcast(tsl_cond* c) { c->cv.notify_all(); }
  static int copy_from_user(void* dst, uint64_t user, size_t n) {
    if (user == 0) return -TSL_EFAULT;
    std::memcpy(dst, reinterpret_cast<const void*>(static_cast<uintptr_t>(user)), n);
    return 0;
  }
  static int copy_to_user(uint64_t user, const void* src, size_t n) {
    if (user == 0) return -TSL_EFAULT;
    std::memcpy(reinterpret_cast<void*>(static_cast<uintptr_t>(user)), src, n);
    return 0;
  }
  static void log(void* hw, int level, const char* fmt, va_list args) {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, fmt, args);
    SimNpu& s = npu(hw);
    const char* tag = level <= TSL_LOG_ERR ? "error" : level <= TSL_LOG_WARN ? "warning" : "info";
    if (std::getenv("TESSEL_DRIVER_LOG") != nullptr) std::fprintf(stderr, "tessel-driver %s: %s\n", tag, buf);
    std::lock_guard<std::mutex> lock(s.log_mu_);
    if (s.log_.size() >= 10000) s.log_.erase(s.log_.begin(), s.log_.begin() + 5000);
    s.log_.push_back(std::string(tag) + ": " + buf);
  }
  static void job_ready(void* hw, uint64_t cmd_phys, uint32_t cmd_bytes) {
    SimNpu& s = npu(hw);
    std::lock_guard<std::mutex> lock(s.device_mu_);
    if (!s.corrupt_pending_) return;
    s.corrupt_pending_ = false;
    if (s.corrupt_offset_ + 4 > cmd_bytes) return;
    auto& mem = s.device_.memory();
    mem.write_u32(cmd_phys + s.corrupt_offset_,
                  mem.read_u32(cmd_phys + s.corrupt_offset_) ^ s.corrupt_mask_);
  }

  static const tsl_port_ops kOps;
};

const tsl_port_ops SimNpu::Port::kOps = {
    &Port::reg_read,      &Port::reg_write,     &Port::mem_read,       &Port::mem_write,
    &Port::device_time_ns, &Port::host_time_ns, &Port::zalloc,         &Port::free,
    &Port::mutex_create,  &Port::mutex_destroy, &Port::mutex_lock,     &Port::mutex_unlock,
    &Port::cond_create,   &Port::cond_destroy,  &Port::cond_wait_until, &Port::cond_broadcast,
    &Port::copy_from_user, &Port::copy_to_user, &Port::log,            &Port::job_ready,
};

SimNpu::SimNpu(const sim::npu::NpuConfig& config, int functional_threads,
               std::shared_ptr<sim::npu::FunctionalUnit> functional)
    : config_(config),
      device_(config, functional_threads, std::move(functional)),
      thread_(new Thread) {
  device_.set_irq_callback([this](bool level) {
    if (level) thread_->work.notify_all();  // called with device_mu_ held
  });
  const tsl_port port{&Port::kOps, this};
  const int err = tsl_probe(&port, device_.memory().size(), &drv_);
  if (err != 0) {
    std::string why;
    for (const auto& line : log()) why += "\n  " + line;
    throw Error("tessel driver: probe failed (" + std::to_string(err) + ")" + why);
  }
  thread_->thread = std::thread([this] { device_thread(); });
}

SimNpu::~SimNpu() {
  std::map<int, tsl_file*> open;
  {
    std::lock_guard<std::mutex> lock(fds_mu_);
    open.swap(fds_);
  }
  for (auto& [fd, f] : open) tsl_release(f);
  {
    std::lock_guard<std::mutex> lock(device_mu_);
    thread_->stop = true;
  }
  thread_->work.notify_all();
  thread_->thread.join();
  tsl_remove(drv_);
}

// Advances the device while it has work; hands interrupts to the driver.
void SimNpu::device_thread() {
  // A slice of device time: short enough that the watchdog and submitters are served
  // promptly, long enough that the loop costs nothing next to the simulation.
  const uint64_t slice = uint64_t{config_.clock_mhz} * 100;  // 100 µs
  std::unique_lock<std::mutex> lock(device_mu_);
  while (!thread_->stop) {
    // Time advances only while a job runs: the idle device's clock stands still, so a
    // job's cycles do not depend on how long the host took between register writes
    // (e.g. between RING_TAIL and DOORBELL).
    if (!device_.job_running() && !device_.irq_level()) {
      thread_->work.wait(lock);
      continue;
    }
    if (!device_.irq_level()) {
      device_.run_until_event(device_.now() + slice, [this] { return device_.irq_level(); });
    }
    const bool irq = device_.irq_level();
    const bool running = device_.job_running();
    lock.unlock();
    if (irq) tsl_irq(drv_);
    if (running || irq) tsl_watchdog(drv_);
    lock.lock();
  }
}

tsl_file* SimNpu::file(int fd) {
  std::lock_guard<std::mutex> lock(fds_mu_);
  const auto it = fds_.find(fd);
  return it == fds_.end() ? nullptr : it->second;
}

int SimNpu::open() {
  tsl_file* f = nullptr;
  const int err = tsl_open(drv_, &f);
  if (err != 0) return err;
  std::lock_guard<std::mutex> lock(fds_mu_);
  const int fd = next_fd_++;
  fds_[fd] = f;
  return fd;
}

int SimNpu::close(int fd) {
  tsl_file* f = nullptr;
  {
    std::lock_guard<std::mutex> lock(fds_mu_);
    const auto it = fds_.find(fd);
    if (it == fds_.end()) return -EBADF;
    f = it->second;
    fds_.erase(it);
  }
  tsl_release(f);
  return 0;
}

int SimNpu::ioctl(int fd, uint32_t cmd, void* arg) {
  // A file in use cannot be closed concurrently by the same process in this model: the
  // caller owns its descriptors (as with a real fd, closing it mid-ioctl is a bug).
  tsl_file* f = file(fd);
  if (f == nullptr) return -EBADF;
  return static_cast<int>(tsl_ioctl(f, cmd, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(arg))));
}

void* SimNpu::mmap(int fd, uint64_t offset, uint64_t length, int* err) {
  int e = -EBADF;
  void* p = nullptr;
  if (tsl_file* f = file(fd)) {
    uint64_t phys = 0;
    e = tsl_mmap(f, offset, length, &phys);
    if (e == 0) {
      std::lock_guard<std::mutex> lock(device_mu_);
      p = device_.memory().host_ptr(phys, length);
    }
  }
  if (err != nullptr) *err = e;
  return p;
}

void SimNpu::inject_hang(isa::Engine engine) {
  std::lock_guard<std::mutex> lock(device_mu_);
  device_.inject_hang(engine);
}

void SimNpu::inject_dma_error(isa::Engine engine) {
  std::lock_guard<std::mutex> lock(device_mu_);
  device_.inject_dma_error(engine);
}

void SimNpu::corrupt_next_job(uint32_t byte_offset, uint32_t xor_mask) {
  std::lock_guard<std::mutex> lock(device_mu_);
  corrupt_pending_ = true;
  corrupt_offset_ = byte_offset;
  corrupt_mask_ = xor_mask;
}

void SimNpu::with_device(const std::function<void(sim::npu::Device&)>& fn) {
  std::lock_guard<std::mutex> lock(device_mu_);
  fn(device_);
}

int SimNpu::context_of(int fd) {
  tsl_file* f = file(fd);
  return f == nullptr ? -EBADF : static_cast<int>(tsl_file_context(f));
}

std::vector<std::string> SimNpu::log() const {
  std::lock_guard<std::mutex> lock(log_mu_);
  return log_;
}

}  // namespace tessel::driver
