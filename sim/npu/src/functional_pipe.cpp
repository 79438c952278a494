#include "functional_pipe.hpp"

#include <utility>

namespace tessel::sim::npu {

FunctionalPipe::FunctionalPipe(bool async, PhysicalMemory& memory, uint8_t* sram,
                               size_t sram_size)
    : async_(async), memory_(memory), sram_(sram), sram_size_(sram_size) {}

FunctionalPipe::~FunctionalPipe() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;  // the worker finishes the queue first
  }
  work_cv_.notify_one();
  thread_.join();
}

void FunctionalPipe::apply(Task& t) {
  if (!t.is_dma) {
    t.unit->execute(t.cmd, sram_, sram_size_);
    return;
  }
  for (const Copy& c : t.copies) {
    if (t.load) {
      memory_.read(c.phys, sram_ + c.sram, c.len);
    } else {
      memory_.write(c.phys, sram_ + c.sram, c.len);
    }
  }
}

void FunctionalPipe::compute(FunctionalUnit& unit, const isa::Command& cmd, uint32_t engine,
                             uint32_t offset) {
  if (!async_) {
    unit.execute(cmd, sram_, sram_size_);  // OperandError goes to the caller
    return;
  }
  Task t;
  t.unit = &unit;
  t.cmd = cmd;
  t.engine = engine;
  t.offset = offset;
  post(std::move(t));
}

void FunctionalPipe::dma(bool load, std::vector<Copy>&& copies) {
  Task t;
  t.is_dma = true;
  t.load = load;
  t.copies = std::move(copies);
  if (!async_) {
    apply(t);
    return;
  }
  post(std::move(t));
}

void FunctionalPipe::post(Task&& task) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) thread_ = std::thread([this] { worker(); });
    queue_.push_back(std::move(task));
    ++posted_;
    wake = worker_waiting_;
  }
  if (wake) work_cv_.notify_one();
}

void FunctionalPipe::worker() {
  std::vector<Task> batch;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    while (queue_.empty() && !stop_) {
      worker_waiting_ = true;
      work_cv_.wait(lock);
      worker_waiting_ = false;
    }
    if (queue_.empty()) return;  // stop_, and everything applied
    batch.swap(queue_);
    const bool skip = !failure_.ok || fatal_ != nullptr;
    lock.unlock();
    Failure failure;
    std::exception_ptr fatal;
    for (Task& t : batch) {
      // After a failure nothing more is applied: the one-thread device halts at the
      // failing command and starts no other.
      if (skip || !failure.ok || fatal) continue;
      try {
        apply(t);
      } catch (const OperandError& e) {
        failure = {false, t.engine, t.offset, e.what()};
      } catch (...) {
        fatal = std::current_exception();
      }
    }
    const auto n = static_cast<uint64_t>(batch.size());
    batch.clear();
    lock.lock();
    if (!failure.ok && failure_.ok) failure_ = std::move(failure);
    if (fatal && !fatal_) fatal_ = fatal;
    done_ += n;
    done_cv_.notify_all();
  }
}

FunctionalPipe::Failure FunctionalPipe::drain() {
  if (!async_) return {};
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [this] { return done_ == posted_; });
  if (fatal_) {
    std::exception_ptr e = std::exchange(fatal_, nullptr);
    std::rethrow_exception(e);
  }
  return std::exchange(failure_, Failure{});
}

void FunctionalPipe::wait() {
  if (!async_) return;
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [this] { return done_ == posted_; });
}

}  // namespace tessel::sim::npu
