#pragma once
// The in-process simulator port: the real driver core (driver/core, C11) bound to a
// simulated device (sim::npu::Device), so that user code talks to the simulated NPU
// exactly as it would to silicon — through open/ioctl/mmap/close on the UAPI of
// driver/include/uapi/tessel_accel.h.
//
//   user code ── ioctl(fd, cmd, &args) ──> SimNpu ── tsl_ioctl ──> driver core
//                                                                  │ reg_read/reg_write
//   interrupt thread <── irq line ── Device <── TLM-style accesses ┘ mem_read/mem_write
//
// Threads. A device thread advances simulated time while the device has work, in slices
// of 100 µs of device time, stopping early when the interrupt line rises; it then calls
// the driver's interrupt handler and watchdog, as a kernel's interrupt and timer context
// would. Register and memory accesses from any thread are serialized with the device
// thread by the port's device mutex (held for a whole slice).
//
// Arguments cross the ioctl boundary by copy (copy_from_user/copy_to_user), so the
// driver's validation sees what a kernel would: a NULL argument gives -EFAULT.
//
// Fault injection (for driver tests): hang an engine, fail a DMA, corrupt a command of
// the next job after the driver validated it.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tessel/sim/npu/config.hpp"
#include "tessel/sim/npu/device.hpp"

struct tsl_dev;
struct tsl_file;

namespace tessel::driver {

class SimNpu {
 public:
  // Builds the device and probes the driver on it. tessel::Error when the probe fails
  // (the message includes the driver's log).
  explicit SimNpu(const sim::npu::NpuConfig& config, int functional_threads = 1,
                  std::shared_ptr<sim::npu::FunctionalUnit> functional = nullptr);
  ~SimNpu();  // closes every open file, stops the device thread, removes the driver
  SimNpu(const SimNpu&) = delete;
  SimNpu& operator=(const SimNpu&) = delete;

  // ---- the system calls --------------------------------------------------------------
  int open();                                     // a file descriptor, or -errno
  int close(int fd);                              // 0 or -EBADF
  int ioctl(int fd, uint32_t cmd, void* arg);     // 0 or -errno (-EBADF: unknown fd)
  // The host pointer of a BO's pages (offset from TESSEL_IOCTL_BO_MMAP); nullptr with
  // *err = -errno when the offset or length is invalid. Valid until the BO is destroyed.
  void* mmap(int fd, uint64_t offset, uint64_t length, int* err = nullptr);

  // ---- fault injection ---------------------------------------------------------------
  void inject_hang(isa::Engine engine);
  void inject_dma_error(isa::Engine engine);
  // XORs `xor_mask` into the 32-bit word at `byte_offset` of the next job's command
  // stream, after the driver validated and copied it (a memory corruption).
  void corrupt_next_job(uint32_t byte_offset, uint32_t xor_mask);

  // ---- observation -------------------------------------------------------------------
  // Runs `fn` with the device stopped (the device mutex held): attach observers, read
  // statistics. Do not call back into SimNpu from `fn`.
  void with_device(const std::function<void(sim::npu::Device&)>& fn);
  const sim::npu::NpuConfig& config() const { return config_; }
  // Hardware context of an open file (for tests), or -EBADF.
  int context_of(int fd);
  // The driver's log messages so far ("level: message").
  std::vector<std::string> log() const;

  struct Port;  // the tsl_port_ops implementation (sim_npu.cpp)

 private:
  void device_thread();
  tsl_file* file(int fd);

  sim::npu::NpuConfig config_;
  mutable std::mutex device_mu_;  // protects device_ and the injection state
  sim::npu::Device device_;
  std::unique_ptr<Port> port_;
  tsl_dev* drv_ = nullptr;
  std::mutex fds_mu_;  // protects fds_ and next_fd_
  std::map<int, tsl_file*> fds_;
  int next_fd_ = 3;
  mutable std::mutex log_mu_;  // protects log_
  std::vector<std::string> log_;
  bool corrupt_pending_ = false;  // device_mu_
  uint32_t corrupt_offset_ = 0, corrupt_mask_ = 0;
  struct Thread;
  std::unique_ptr<Thread> thread_;
};

}  // namespace tessel::driver
