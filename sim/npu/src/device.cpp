#include "tessel/sim/npu/device.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string>
#include <thread>
#include <type_traits>

#include "functional_pipe.hpp"
#include "tessel/ir/error.hpp"
#include "tessel/sim/npu/timing.hpp"
#include "tessel_npu_isa.h"

namespace tessel::sim::npu {
namespace {

constexpr uint32_t kCpEngine = 4;               // CommandRecord.engine of FENCE/END
constexpr uint64_t kMaxDmaRows = 1u << 24;      // rows per DMA command (bounds host work)
constexpr uint32_t kMaxCommandBytes = 16u << 20;
constexpr unsigned kEpochShift = 48;            // request id = epoch << 48 | seq << 1 | dma

template <class T, class... Ts>
constexpr bool is_one_of = (std::is_same_v<T, Ts> || ...);

uint32_t perf(isa::Perf p) { return static_cast<uint32_t>(p); }

// The queue a command goes to; -1 for NOP, -2 for the barriers (FENCE, END).
int engine_of(const isa::Command& cmd) {
  return std::visit(
      [](const auto& c) -> int {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, isa::DmaLoad>) return 0;
        if constexpr (std::is_same_v<T, isa::DmaStore>) return 1;
        if constexpr (is_one_of<T, isa::Conv, isa::Dwconv, isa::Matmul>) return 2;
        if constexpr (is_one_of<T, isa::Eltwise, isa::Pool, isa::Lut, isa::Resize, isa::Mean,
                                isa::ResizeRows, isa::Softmax>)
          return 3;
        if constexpr (is_one_of<T, isa::SemSignal, isa::SemWait>) return c.engine;
        if constexpr (is_one_of<T, isa::Fence, isa::End>) return -2;
        return -1;
      },
      cmd);
}

// DMA_LOAD and DMA_STORE have the same fields (the spec shares them).
struct DmaFields {
  uint32_t dram_addr, sram_addr, len0, n1, n2, n3;
  uint32_t dram_stride1, dram_stride2, dram_stride3, sram_stride1, sram_stride2, sram_stride3;
};
template <class T>
DmaFields dma_fields(const T& c) {
  return {c.dram_addr,    c.sram_addr,    c.len0,         c.n1,           c.n2,
          c.n3,           c.dram_stride1, c.dram_stride2, c.dram_stride3, c.sram_stride1,
          c.sram_stride2, c.sram_stride3};
}

// Functional effects on a worker thread: by default when the host has more than one
// core; TESSEL_SIM_ASYNC=0 turns it off, =1 on (A/B measurements, tests, debugging).
bool async_functional_default() {
  const char* env = std::getenv("TESSEL_SIM_ASYNC");
  if (env != nullptr && std::string(env) == "0") return false;
  if (env != nullptr && std::string(env) == "1") return true;
  return std::thread::hardware_concurrency() > 1;
}

uint8_t opcode_of(const isa::Command& cmd) {
  return std::visit([](const auto& c) { return static_cast<uint8_t>(c.kOpcode); }, cmd);
}

}  // namespace

Device::Device(const NpuConfig& config, int functional_threads, std::shared_ptr<FunctionalUnit> functional)
    : config_(config),
      memory_(config.dram_bytes),
      dram_(std::make_unique<mem::MemorySystem>(config.dram)),
      mmu_(config.mmu, memory_),
      sram_(config.sram_bytes(), 0),
      functional_(functional ? std::move(functional) : std::make_shared<FunctionalUnit>(functional_threads)),
      semaphores_(config.semaphores, 0),
      sem_signaler_(config.semaphores, 0) {
  // One core cycle is (1e6 / clock_mhz) ps, one DRAM cycle tCK_ps: DRAM cycles per core
  // cycle = 1e9 / (clock_mhz * tCK in 1/1000 ps), kept as a reduced integer fraction so
  // that the clock crossings are exact and cheap (they run several times per event).
  const uint64_t tck_mps = static_cast<uint64_t>(std::llround(config.dram.timing.tCK_ps * 1000.0));
  const uint64_t num = 1000000000ull, den = uint64_t{config.clock_mhz} * tck_mps;
  const uint64_t g = std::gcd(num, den);
  dram_per_npu_num_ = num / g;
  dram_per_npu_den_ = den / g;
  // The fast path of the crossings (see div_exact): operands below 2^52.
  dram_fast_max_ = ((uint64_t{1} << 52) - 1) / dram_per_npu_num_;
  npu_fast_max_ = ((uint64_t{1} << 52) - dram_per_npu_num_) / dram_per_npu_den_;
  inv_den_ = 1.0 / static_cast<double>(dram_per_npu_den_);
  inv_num_ = 1.0 / static_cast<double>(dram_per_npu_num_);
  const uint32_t burst = config.dram.org.burst_bytes();
  // A transaction is queued whole, so its requests must fit the DRAM controller's queues
  // or it could never issue. With a linear address mapping every aligned block splits
  // the same way, so the block at address 0 stands for all of them.
  if (config.dma.max_transaction_bytes > burst) {
    const uint32_t need = dram_->max_entries_per_channel(0, config.dma.max_transaction_bytes);
    const uint32_t have = std::min(config.dram.controller.read_queue_depth,
                                   config.dram.controller.write_queue_depth);
    if (need > have) {
      throw Error(config.name + ": dma.max_transaction_bytes " +
                  std::to_string(config.dma.max_transaction_bytes) + " needs " +
                  std::to_string(need) + " DRAM queue entries in one channel, the " +
                  config.dram.name + " controller queues hold " + std::to_string(have));
    }
  }
  bus_cycles_per_burst_ =
      std::max<uint32_t>(1, (burst + config.dma.bus_bytes_per_cycle - 1) /
                                config.dma.bus_bytes_per_cycle);
  dram_->set_completion_callback([this](const mem::Request& r, std::uint64_t done) {
    // Fields stored in place: a temporary DramDone copied into the vector was read back
    // wider than it was written (a store-forwarding stall per completion).
    DramDone& d = dram_done_.emplace_back();
    d.id = r.id;
    d.cycle = done;
    d.bursts = r.bursts;
  });
  config_hash_ = npu_config_hash(config_);
  pipe_ = std::make_unique<FunctionalPipe>(async_functional_default(), memory_, sram_.data(),
                                           sram_.size());
}

Device::~Device() = default;

PhysicalMemory& Device::memory() {
  pipe_->wait();
  return memory_;
}

uint8_t* Device::sram() {
  pipe_->wait();
  return sram_.data();
}

void Device::sync_functional() {
  const FunctionalPipe::Failure f = pipe_->drain();
  if (!f.ok && !halted_) halt(isa::ErrorCode::kBadOperand, f.engine, f.offset, 0, f.what);
}

// ------------------------------------------------------------------------------ registers

uint32_t Device::read_reg(uint32_t offset) {
  const auto& c = config_;
  switch (offset) {
    case TESSEL_REG_ID: return TESSEL_ISA_ID;
    case TESSEL_REG_VERSION:
      return TESSEL_ISA_VERSION_MAJOR << TESSEL_VERSION_MAJOR_SHIFT | TESSEL_ISA_VERSION_MINOR;
    case TESSEL_REG_CAPS:
      return c.mmu.contexts << TESSEL_CAPS_CONTEXTS_SHIFT |
             (c.semaphores & 0xFFu) << TESSEL_CAPS_SEMAPHORES_SHIFT |
             c.dma.engines << TESSEL_CAPS_DMA_ENGINES_SHIFT | 1u << TESSEL_CAPS_MMU_SHIFT;
    case TESSEL_REG_MAC_SHAPE: return c.mac.rows | c.mac.cols << TESSEL_MAC_SHAPE_COLS_SHIFT;
    case TESSEL_REG_SRAM_KIB: return c.sram.size_kib;
    case TESSEL_REG_CLOCK_MHZ: return c.clock_mhz;
    case TESSEL_REG_CONFIG_HASH: return static_cast<uint32_t>(config_hash_);
    case TESSEL_REG_RING_BASE_LO: return static_cast<uint32_t>(ring_base_);
    case TESSEL_REG_RING_BASE_HI: return static_cast<uint32_t>(ring_base_ >> 32);
    case TESSEL_REG_RING_SIZE: return ring_size_;
    case TESSEL_REG_RING_HEAD: return ring_head_;
    case TESSEL_REG_RING_TAIL: return ring_tail_;
    case TESSEL_REG_IRQ_STATUS: return irq_status_;
    case TESSEL_REG_IRQ_MASK: return irq_mask_;
    case TESSEL_REG_ERROR_STATUS: return error_status_;
    case TESSEL_REG_ERROR_OFFSET: return error_offset_;
    case TESSEL_REG_FAULT_ADDR: return fault_addr_;
    case TESSEL_REG_DONE_JOB_ID: return done_job_id_;
    case TESSEL_REG_FENCE_VALUE: return fence_value_;
    case TESSEL_REG_STATUS:
      return (job_active_ ? 1u : 0u) << TESSEL_STATUS_BUSY_SHIFT |
             (halted_ ? 1u : 0u) << TESSEL_STATUS_HALTED_SHIFT;
    default: break;
  }
  if (offset >= TESSEL_REG_PT_BASE_LO(0) &&
      offset < TESSEL_REG_PT_BASE_LO(TESSEL_REG_PT_BASE_LO_COUNT)) {
    const uint32_t ctx = (offset - TESSEL_REG_PT_BASE_LO(0)) / 8;
    if (ctx >= config_.mmu.contexts) return 0;
    const uint64_t base = mmu_.table_base(ctx);
    return (offset & 4) ? static_cast<uint32_t>(base >> 32) : static_cast<uint32_t>(base);
  }
  if (offset >= TESSEL_REG_PERF_LO(0) && offset < TESSEL_REG_PERF_LO(TESSEL_REG_PERF_LO_COUNT)) {
    const uint32_t i = (offset - TESSEL_REG_PERF_LO(0)) / 8;
    if (i >= isa::kPerfCount) return 0;
    const uint64_t v = counter(i);
    if (offset & 4) return perf_hi_latch_;
    perf_hi_latch_ = static_cast<uint32_t>(v >> 32);
    return static_cast<uint32_t>(v);
  }
  return 0;  // unknown and write-only registers read as zero
}

void Device::write_reg(uint32_t offset, uint32_t value) {
  switch (offset) {
    case TESSEL_REG_RING_BASE_LO: ring_base_ = (ring_base_ & ~0xFFFFFFFFull) | value; return;
    case TESSEL_REG_RING_BASE_HI:
      ring_base_ = (ring_base_ & 0xFFFFFFFFull) | uint64_t{value} << 32;
      return;
    case TESSEL_REG_RING_SIZE: ring_size_ = value; return;
    case TESSEL_REG_RING_TAIL: ring_tail_ = value; return;
    case TESSEL_REG_DOORBELL: try_start_job(); return;
    case TESSEL_REG_IRQ_MASK: irq_mask_ = value & 0x1Fu; update_irq(); return;
    case TESSEL_REG_IRQ_CLEAR: irq_status_ &= ~value; update_irq(); return;
    case TESSEL_REG_SOFT_RESET:
      if (value & 1u) reset_state();
      return;
    case TESSEL_REG_MMU_FLUSH:
      if (value & 1u) mmu_.flush();
      return;
    default: break;
  }
  if (offset >= TESSEL_REG_PT_BASE_LO(0) &&
      offset < TESSEL_REG_PT_BASE_LO(TESSEL_REG_PT_BASE_LO_COUNT)) {
    const uint32_t ctx = (offset - TESSEL_REG_PT_BASE_LO(0)) / 8;
    if (ctx >= config_.mmu.contexts) return;
    uint64_t base = mmu_.table_base(ctx);
    base = (offset & 4) ? (base & 0xFFFFFFFFull) | uint64_t{value} << 32
                        : (base & ~0xFFFFFFFFull) | value;
    mmu_.set_table_base(ctx, base);
    mmu_.flush();
  }
  // Writes to read-only or unknown offsets are ignored, as on the bus of real hardware.
}

uint64_t Device::counter(uint32_t i) const {
  const mem::MemoryStats s = dram_->stats();
  const auto minus = [](uint64_t a, uint64_t b) { return a >= b ? a - b : 0; };
  switch (static_cast<isa::Perf>(i)) {
    case isa::Perf::kRowHits: return minus(s.total.row_hits, dram_base_.row_hits);
    case isa::Perf::kRowMisses: return minus(s.total.row_misses, dram_base_.row_misses);
    case isa::Perf::kRowConflicts:
      return minus(s.total.row_conflicts, dram_base_.row_conflicts);
    case isa::Perf::kRefreshes: return minus(s.total.refreshes, dram_base_.refreshes);
    case isa::Perf::kTlbMisses: return mmu_.misses();
    default: return counters_[i];
  }
}

Counters Device::counters() const {
  Counters c{};
  for (uint32_t i = 0; i < isa::kPerfCount; ++i) c[i] = counter(i);
  return c;
}

void Device::set_irq(uint32_t bits) {
  irq_status_ |= bits;
  update_irq();
}

void Device::update_irq() {
  const bool level = irq_level();
  if (level != last_irq_level_) {
    last_irq_level_ = level;
    if (irq_cb_) irq_cb_(level);
  }
}

void Device::reset_state() {
  (void)pipe_->drain();  // a failure of the work being reset is moot
  ++epoch_;
  for (auto& e : engines_) e = EngineState{};
  hang_engine_ = {};
  dma_error_engine_ = {};
  std::fill(semaphores_.begin(), semaphores_.end(), 0);
  std::fill(sem_signaler_.begin(), sem_signaler_.end(), 0);
  ring_head_ = ring_tail_ = 0;
  irq_status_ = 0;
  error_status_ = error_offset_ = fault_addr_ = 0;
  done_job_id_ = fence_value_ = 0;
  halted_ = hung_ = false;
  job_active_ = false;
  barrier_pending_ = false;
  job_words_.clear();
  job_pos_ = 0;
  stalled_pos_ = kNoStall;
  counters_ = {};
  dram_base_ = dram_->stats().total;
  mmu_.flush();
  mmu_.reset_counters();
  update_irq();
}

void Device::halt(isa::ErrorCode code, uint32_t engine, uint32_t offset, uint32_t fault_addr,
                  const std::string& why) {
  (void)pipe_->drain();  // the commands started before the halt have their effects
  halted_ = true;
  ++epoch_;  // in-flight DRAM requests of the aborted work are ignored when they complete
  for (auto& e : engines_) e = EngineState{};
  job_active_ = false;
  barrier_pending_ = false;
  error_status_ = static_cast<uint32_t>(code) | (engine & 0xFu) << TESSEL_ERROR_STATUS_ENGINE_SHIFT |
                  (job_context_ & 0xFFu) << TESSEL_ERROR_STATUS_CONTEXT_SHIFT;
  error_offset_ = offset;
  fault_addr_ = fault_addr;
  last_error_ = why;
  uint32_t cause = TESSEL_IRQ_STATUS_CMD_ERROR_MASK << TESSEL_IRQ_STATUS_CMD_ERROR_SHIFT;
  if (code == isa::ErrorCode::kMmuFault)
    cause = TESSEL_IRQ_STATUS_MMU_FAULT_MASK << TESSEL_IRQ_STATUS_MMU_FAULT_SHIFT;
  if (code == isa::ErrorCode::kDmaError)
    cause = TESSEL_IRQ_STATUS_DMA_ERROR_MASK << TESSEL_IRQ_STATUS_DMA_ERROR_SHIFT;
  set_irq(cause);
}

// ---------------------------------------------------------------------------------- jobs

void Device::try_start_job() {
  if (job_active_ || halted_ || ring_head_ == ring_tail_) return;
  // The ring entry and command buffer are read as the one-thread device would see them.
  sync_functional();
  if (halted_) return;
  job_context_ = 0;
  const auto bad_entry = [&](const std::string& why) {
    halt(isa::ErrorCode::kBadRingEntry, kCpEngine, 0, 0, why);
  };
  if (ring_size_ < 2 || ring_size_ > 4096 || (ring_size_ & (ring_size_ - 1)) != 0) {
    return bad_entry("RING_SIZE " + std::to_string(ring_size_) + " is not a power of two in [2, 4096]");
  }
  const uint64_t entry = ring_base_ + uint64_t{TESSEL_RING_ENTRY_BYTES} * (ring_head_ % ring_size_);
  if ((ring_base_ & 63) != 0 || !memory_.contains(entry, TESSEL_RING_ENTRY_BYTES)) {
    return bad_entry("ring entry outside device memory or RING_BASE not 64-byte aligned");
  }
  uint32_t w[TESSEL_RING_ENTRY_BYTES / 4];
  for (uint32_t i = 0; i < TESSEL_RING_ENTRY_BYTES / 4; ++i) w[i] = memory_.read_u32(entry + 4 * i);
  const uint32_t cmd_addr = w[TESSEL_RING_ENTRY_CMD_ADDR_WORD];
  const uint32_t cmd_bytes = w[TESSEL_RING_ENTRY_CMD_BYTES_WORD];
  job_context_ = w[TESSEL_RING_ENTRY_CONTEXT_WORD];
  job_id_ = w[TESSEL_RING_ENTRY_JOB_ID_WORD];
  if (job_context_ >= config_.mmu.contexts || mmu_.table_base(job_context_) == 0) {
    return bad_entry("context " + std::to_string(job_context_) + " is not enabled");
  }
  if ((cmd_addr & 3) || (cmd_bytes & 3) || cmd_bytes == 0 || cmd_bytes > kMaxCommandBytes) {
    return bad_entry("command buffer address/size not 4-byte aligned, empty or over 16 MiB");
  }
  // The command processor reads the whole buffer through the MMU before decoding.
  job_words_.resize(cmd_bytes / 4);
  for (uint32_t off = 0; off < cmd_bytes;) {
    const uint32_t va = cmd_addr + off;
    const Translation t = mmu_.translate(job_context_, va, false);
    if (!t.ok) {
      return halt(isa::ErrorCode::kMmuFault, kCpEngine, 0, va,
                  "command buffer page not mapped");
    }
    const uint32_t len = std::min<uint32_t>(cmd_bytes - off, 4096 - (va & 4095));
    memory_.read(t.phys, reinterpret_cast<uint8_t*>(job_words_.data()) + off, len);
    off += len;
  }
  job_active_ = true;
  job_pos_ = 0;
  stalled_pos_ = kNoStall;  // new command words
  job_start_ = now_;
  hung_ = false;
}

bool Device::busy() const { return job_active_ || (!halted_ && ring_head_ != ring_tail_); }

bool Device::all_idle() const {
  for (const auto& e : engines_) {
    if (e.busy || !e.queue.empty()) return false;
  }
  return true;
}

// Command processor: decode in order, append to queues, stop at a barrier or a full queue.
bool Device::dispatch() {
  bool progress = false;
  while (job_active_ && !barrier_pending_) {
    // The command at job_pos_ was decoded and checked before and found its queue full:
    // while that queue stays full, decoding it again would only find the same (dispatch
    // runs after every event, so this saves a decode per event while the CP waits).
    if (job_pos_ == stalled_pos_ &&
        engines_[stalled_engine_].queue.size() >= config_.queue_depth)
      break;
    const uint32_t offset = static_cast<uint32_t>(job_pos_ * 4);
    if (job_pos_ >= job_words_.size()) {
      halt(isa::ErrorCode::kBadLength, kCpEngine, offset, 0,
           "command buffer ends without END");
      return true;
    }
    const isa::DecodeResult d = isa::decode(job_words_.data() + job_pos_,
                                            job_words_.size() - job_pos_);
    if (!d.ok) {
      halt(static_cast<isa::ErrorCode>(d.error_code), kCpEngine, offset, 0, d.error);
      return true;
    }
    const int e = engine_of(d.command);
    if (e == -2) {
      barrier_pending_ = true;
      barrier_ = Queued{d.command, offset};
      job_pos_ += d.words;
      return true;
    }
    if (e == -1) {  // NOP
      job_pos_ += d.words;
      counters_[perf(isa::Perf::kCommands)]++;
      progress = true;
      continue;
    }
    if (e >= static_cast<int>(kEngines)) {
      halt(isa::ErrorCode::kBadOperand, kCpEngine, offset, 0,
           "semaphore command names engine " + std::to_string(e));
      return true;
    }
    // Operand checks happen here, at decode, so a bad command halts before it runs.
    try {
      std::visit(
          [&](const auto& c) {
            using T = std::decay_t<decltype(c)>;
            if constexpr (is_one_of<T, isa::SemSignal, isa::SemWait>) {
              if (c.sem >= semaphores_.size()) {
                throw OperandError("semaphore " + std::to_string(c.sem) + " out of range (" +
                                   std::to_string(semaphores_.size()) + " semaphores)");
              }
            } else if constexpr (is_one_of<T, isa::DmaLoad, isa::DmaStore>) {
              check_dma_operands(c.sram_addr, c.len0, c.n1, c.n2, c.n3, c.sram_stride1,
                                 c.sram_stride2, c.sram_stride3);
            } else {
              FunctionalUnit::check_operands(d.command, sram_.size());
            }
          },
          d.command);
    } catch (const OperandError& err) {
      halt(isa::ErrorCode::kBadOperand, static_cast<uint32_t>(e), offset, 0, err.what());
      return true;
    }
    auto& q = engines_[static_cast<size_t>(e)].queue;
    if (q.size() >= config_.queue_depth) {  // back-pressure: the CP waits
      stalled_pos_ = job_pos_;
      stalled_engine_ = static_cast<uint32_t>(e);
      break;
    }
    q.push_back(Queued{d.command, offset});
    job_pos_ += d.words;
    progress = true;
  }
  return progress;
}

void Device::check_dma_operands(uint32_t sram_addr, uint32_t len0, uint32_t n1, uint32_t n2,
                                uint32_t n3, uint32_t s1, uint32_t s2, uint32_t s3) const {
  const uint64_t rows = uint64_t{n1} * n2 * n3;
  if (rows > kMaxDmaRows) {
    throw OperandError("DMA: " + std::to_string(rows) + " rows exceeds the limit of " +
                       std::to_string(kMaxDmaRows));
  }
  if (rows == 0 || len0 == 0) return;
  const uint64_t last = uint64_t{sram_addr} + uint64_t{n1 - 1} * s1 + uint64_t{n2 - 1} * s2 +
                        uint64_t{n3 - 1} * s3 + len0;
  if (last > sram_.size()) {
    throw OperandError("DMA: SRAM region ends at " + std::to_string(last) + ", past the " +
                       std::to_string(sram_.size()) + "-byte SRAM (sram_addr/len0/n/sram_stride)");
  }
}

bool Device::retire_barrier() {
  if (!barrier_pending_ || !all_idle()) return false;
  // The host may look at memory once it sees the fence value, the done job or an
  // interrupt: every effect so far is applied first.
  sync_functional();
  if (halted_) return true;
  barrier_pending_ = false;
  counters_[perf(isa::Perf::kCommands)]++;
  CommandRecord rec;
  rec.engine = kCpEngine;
  rec.opcode = opcode_of(barrier_.cmd);
  rec.job_id = job_id_;
  rec.context = job_context_;
  rec.offset = barrier_.offset;
  rec.start_cycle = rec.end_cycle = now_;
  for (auto* o : observers_) o->on_command(rec);
  if (const auto* f = std::get_if<isa::Fence>(&barrier_.cmd)) {
    fence_value_ = f->value;
    if (f->irq) set_irq(TESSEL_IRQ_STATUS_FENCE_MASK << TESSEL_IRQ_STATUS_FENCE_SHIFT);
    return true;
  }
  // END
  job_active_ = false;
  done_job_id_ = job_id_;
  ++ring_head_;
  counters_[perf(isa::Perf::kJobs)]++;
  for (auto* o : observers_) o->on_job(job_id_, job_start_, now_);
  set_irq(TESSEL_IRQ_STATUS_JOB_DONE_MASK << TESSEL_IRQ_STATUS_JOB_DONE_SHIFT);
  try_start_job();
  return true;
}

// ------------------------------------------------------------------------------- engines

bool Device::start_engines() {
  bool progress = false;
  for (uint32_t e = 0; e < kEngines && !halted_; ++e) {
    EngineState& s = engines_[e];
    while (!s.busy && !s.queue.empty() && !halted_) {
      const Queued& head = s.queue.front();
      if (const auto* sig = std::get_if<isa::SemSignal>(&head.cmd)) {
        semaphores_[sig->sem]++;
        sem_signaler_[sig->sem] = e;
        counters_[perf(isa::Perf::kCommands)]++;
        s.queue.pop_front();
        progress = true;
        continue;
      }
      if (const auto* wait = std::get_if<isa::SemWait>(&head.cmd)) {
        if (semaphores_[wait->sem] == 0) {
          if (s.wait_since == kNever) s.wait_since = now_;
          break;
        }
        semaphores_[wait->sem]--;
        if (s.wait_since != kNever) {
          const uint64_t stalled = now_ - s.wait_since;
          const isa::Perf which = e == 2   ? isa::Perf::kMacStallSem
                                  : e == 3 ? isa::Perf::kVecStallSem
                                           : isa::Perf::kDmaStallSem;
          counters_[perf(which)] += stalled;
          // Attribute the wait to its cause: data from a DMA queue, or another engine.
          if (e >= 2 && sem_signaler_[wait->sem] <= 1)
            counters_[perf(e == 2 ? isa::Perf::kMacStallDma : isa::Perf::kVecStallDma)] += stalled;
          s.wait_since = kNever;
        }
        counters_[perf(isa::Perf::kCommands)]++;
        s.queue.pop_front();
        progress = true;
        continue;
      }
      s.current = head;
      s.queue.pop_front();
      s.busy = true;
      s.start = now_;
      progress = true;
      if (e <= 1) {
        start_dma(e);
      } else {
        start_compute(e);
      }
    }
  }
  return progress;
}

void Device::start_compute(uint32_t e) {
  EngineState& s = engines_[e];
  const ComputeTiming t = compute_timing(s.current.cmd, config_);
  try {
    pipe_->compute(*functional_, s.current.cmd, e, s.current.offset);
  } catch (const OperandError& err) {  // checked at dispatch; kept as a safety net
    return halt(isa::ErrorCode::kBadOperand, e, s.current.offset, 0, err.what());
  }
  s.macs = command_macs(s.current.cmd);
  s.end = now_ + t.cycles;
  counters_[perf(isa::Perf::kMacs)] += s.macs;
  counters_[perf(isa::Perf::kSramReadBytes)] += t.sram_read_bytes;
  counters_[perf(isa::Perf::kSramWriteBytes)] += t.sram_write_bytes;
  counters_[perf(isa::Perf::kStallSramBank)] += t.cycles - t.compute_cycles;
  if (hang_engine_[e]) {  // fault injection: this command never completes
    hang_engine_[e] = false;
    s.end = kNever;
  }
}

// A DMA command: translate every row (a fault moves no bytes), move the bytes, and queue
// the DRAM bursts that the timing simulation then issues over the shared bus.
void Device::start_dma(uint32_t e) {
  EngineState& s = engines_[e];
  const bool load = e == 0;
  const DmaFields c = load ? dma_fields(std::get<isa::DmaLoad>(s.current.cmd))
                          : dma_fields(std::get<isa::DmaStore>(s.current.cmd));
  std::vector<DmaSegment>& segs = dma_segments_;
  segs.clear();
  uint64_t walk_cycles = 0;
  for (uint32_t i3 = 0; i3 < c.n3; ++i3) {
    for (uint32_t i2 = 0; i2 < c.n2; ++i2) {
      for (uint32_t i1 = 0; i1 < c.n1; ++i1) {
        const uint64_t va = uint64_t{c.dram_addr} + uint64_t{i1} * c.dram_stride1 +
                            uint64_t{i2} * c.dram_stride2 + uint64_t{i3} * c.dram_stride3;
        const uint32_t sram = c.sram_addr + i1 * c.sram_stride1 + i2 * c.sram_stride2 +
                              i3 * c.sram_stride3;
        for (uint64_t off = 0; off < c.len0;) {
          const uint64_t a = va + off;
          if (a > 0xFFFFFFFFull) {
            return halt(isa::ErrorCode::kMmuFault, e, s.current.offset, 0xFFFFFFFFu,
                        "DMA address beyond the 32-bit NPU address space");
          }
          const Translation t = mmu_.translate(job_context_, static_cast<uint32_t>(a), !load);
          walk_cycles += t.cycles;
          if (!t.ok) {
            return halt(isa::ErrorCode::kMmuFault, e, s.current.offset, static_cast<uint32_t>(a),
                        load ? "DMA_LOAD from an unmapped page" : "DMA_STORE to an unmapped or read-only page");
          }
          const uint32_t len =
              static_cast<uint32_t>(std::min<uint64_t>(c.len0 - off, 4096 - (a & 4095)));
          segs.push_back({t.phys, sram + static_cast<uint32_t>(off), len, walk_cycles});
          off += len;
        }
      }
    }
  }
  if (dma_error_engine_[e]) {  // fault injection: the first burst comes back with an error
    dma_error_engine_[e] = false;
    return halt(isa::ErrorCode::kDmaError, e, s.current.offset, c.dram_addr,
                "injected DMA error: the memory system failed the transfer");
  }
  // Functional effect, then the bursts (whole, burst-aligned; consecutive segments that
  // share a burst fetch it once), grouped into transactions: consecutive bursts in one
  // aligned block of max_transaction_bytes that became ready together. The MMU walks
  // pages in order ahead of the transfer, so a burst can issue once its own page is
  // translated: walks overlap earlier pages' data.
  const uint64_t burst = config_.dram.org.burst_bytes();
  const uint64_t block = std::max<uint64_t>(burst, config_.dma.max_transaction_bytes);
  s.xfers.clear();
  s.next_xfer = 0;
  s.outstanding = 0;
  s.last_done_dram = 0;
  uint64_t moved = 0, total_bursts = 0;
  std::vector<FunctionalPipe::Copy> copies;
  copies.reserve(segs.size());
  for (const DmaSegment& g : segs) copies.push_back({g.phys, g.sram, g.len});
  pipe_->dma(load, std::move(copies));
  for (const DmaSegment& g : segs) {
    moved += g.len;
    const uint64_t ready = now_ + config_.dma.setup_cycles + g.walked;
    uint64_t b = g.phys / burst * burst;
    const uint64_t end = (g.phys + g.len + burst - 1) / burst * burst;
    // The bursts [b, end) a block at a time: each run inside one aligned block extends
    // the previous transaction when it continues it (same block, same ready cycle) and
    // starts a new one otherwise. A first burst that is the previous segment's last one is
    // fetched once.
    if (!s.xfers.empty() && b + burst == s.xfers.back().phys + uint64_t{s.xfers.back().bursts} * burst)
      b += burst;
    while (b < end) {
      const uint64_t run_end = std::min(end, (b / block + 1) * block);
      const auto n = static_cast<uint32_t>((run_end - b) / burst);
      DmaTransaction* x = s.xfers.empty() ? nullptr : &s.xfers.back();
      if (x && b == x->phys + uint64_t{x->bursts} * burst && b / block == x->phys / block &&
          ready == x->ready) {
        x->bursts += n;
      } else {
        s.xfers.push_back({b, n, !load, ready});
      }
      total_bursts += n;
      b = run_end;
    }
  }
  s.dma_bytes = total_bursts * burst;
  counters_[perf(load ? isa::Perf::kSramWriteBytes : isa::Perf::kSramReadBytes)] += moved;
  s.issue_at = now_ + config_.dma.setup_cycles;
  s.min_cycles = config_.dma.setup_cycles +
                 std::max<uint64_t>(walk_cycles, total_bursts * bus_cycles_per_burst_);
  s.end = kNever;
  if (hang_engine_[e]) {
    hang_engine_[e] = false;
    s.xfers.clear();
    s.hung = true;
  }
}

void Device::finish_command(uint32_t e, uint64_t end_cycle) {
  EngineState& s = engines_[e];
  const uint64_t busy = end_cycle - s.start;
  static constexpr isa::Perf kBusy[kEngines] = {isa::Perf::kDmaInBusy, isa::Perf::kDmaOutBusy,
                                                isa::Perf::kMacBusy, isa::Perf::kVecBusy};
  counters_[perf(kBusy[e])] += busy;
  counters_[perf(isa::Perf::kCommands)]++;
  if (e <= 1 && busy > s.min_cycles) counters_[perf(isa::Perf::kStallDram)] += busy - s.min_cycles;
  CommandRecord rec;
  rec.engine = e;
  rec.opcode = opcode_of(s.current.cmd);
  rec.job_id = job_id_;
  rec.context = job_context_;
  rec.offset = s.current.offset;
  rec.start_cycle = s.start;
  rec.end_cycle = end_cycle;
  rec.macs = e >= 2 ? s.macs : 0;
  rec.dram_bytes = e <= 1 ? s.dma_bytes : 0;
  for (auto* o : observers_) o->on_command(rec);
  s.busy = false;
  s.end = kNever;
  s.macs = 0;
}

// ----------------------------------------------------------------------- DMA and DRAM time

namespace {
// floor(a * b / c) and ceil(a * b / c) without overflow (128-bit intermediate).
__extension__ typedef unsigned __int128 u128;
uint64_t mul_div_floor(uint64_t a, uint64_t b, uint64_t c) {
  if (b == 0 || a <= (UINT64_MAX - c) / b) return a * b / c;  // the common, cheap case
  return static_cast<uint64_t>(static_cast<u128>(a) * b / c);
}
uint64_t mul_div_ceil(uint64_t a, uint64_t b, uint64_t c) {
  if (b == 0 || a <= (UINT64_MAX - c) / b) return (a * b + c - 1) / c;
  return static_cast<uint64_t>((static_cast<u128>(a) * b + c - 1) / c);
}
// floor(x / d) for x < 2^52, with inv_d = 1.0 / d: the clock crossings run several times
// per DRAM event, and their 64-bit divisions were the main cost of the event loop's own
// code. The floating-point estimate is within one or two of the quotient at these
// magnitudes; the two loops correct it against the remainder, so the result is exact.
inline uint64_t div_exact(uint64_t x, uint64_t d, double inv_d) {
  uint64_t q = static_cast<uint64_t>(static_cast<double>(x) * inv_d);
  while (q > 0 && q * d > x) --q;
  while (x - q * d >= d) ++q;
  return q;
}
}  // namespace

uint64_t Device::dram_cycle_at(uint64_t npu_cycle) const {
  if (npu_cycle <= dram_fast_max_)
    return div_exact(npu_cycle * dram_per_npu_num_, dram_per_npu_den_, inv_den_);
  return mul_div_floor(npu_cycle, dram_per_npu_num_, dram_per_npu_den_);
}

uint64_t Device::npu_cycle_at(uint64_t dram_cycle) const {
  if (dram_cycle <= npu_fast_max_)
    return div_exact(dram_cycle * dram_per_npu_den_ + dram_per_npu_num_ - 1, dram_per_npu_num_,
                     inv_num_);
  return mul_div_ceil(dram_cycle, dram_per_npu_den_, dram_per_npu_num_);
}

void Device::note_dram_bytes(uint64_t npu_cycle, bool write, uint64_t bytes) {
  if (observers_.empty()) return;
  if (npu_cycle >= window_start_ + trace_window_) {
    if (window_read_ || window_write_) {
      for (auto* o : observers_) {
        o->on_dram_window(window_start_, window_start_ + trace_window_, window_read_, window_write_);
      }
    }
    window_read_ = window_write_ = 0;
    window_start_ = npu_cycle - npu_cycle % trace_window_;
  }
  (write ? window_write_ : window_read_) += bytes;
}

// Brings the DRAM model to now(), retires completed bursts, issues new ones over the
// shared bus (round-robin between the DMA engines), finishes DMA commands whose bursts
// have all completed. Returns true when a command finished (what the rest of the device
// loop may act on).
bool Device::pump_dma() {
  bool progress = false;
  const uint64_t d = dram_cycle_at(now_);
  if (d > dram_->now()) dram_->tick_until(d);
  const uint64_t burst = config_.dram.org.burst_bytes();
  for (const DramDone& done : dram_done_) {
    if ((done.id >> kEpochShift) != (epoch_ & 0xFFFF)) continue;  // aborted by halt/reset
    EngineState& s = engines_[done.id & 1];
    s.outstanding -= done.bursts;
    s.last_done_dram = std::max<uint64_t>(s.last_done_dram, done.cycle);
    const bool write = (done.id & 1) == 1;
    counters_[perf(write ? isa::Perf::kDramWriteBytes : isa::Perf::kDramReadBytes)] += done.bursts * burst;
    note_dram_bytes(npu_cycle_at(done.cycle), write, done.bursts * burst);
  }
  dram_done_.clear();

  while (bus_free_at_ <= now_) {
    int chosen = -1;
    for (uint32_t k = 0; k < 2; ++k) {
      const uint32_t e = (bus_rr_ + k) & 1;
      const EngineState& s = engines_[e];
      if (!s.busy || s.next_xfer >= s.xfers.size()) continue;
      const DmaTransaction& x = s.xfers[s.next_xfer];
      if (x.ready <= now_ && under_outstanding_limit(s, x) &&
          dram_->can_accept_transaction(x.phys, x.bursts * static_cast<uint32_t>(burst), x.write)) {
        chosen = static_cast<int>(e);
        break;
      }
    }
    if (chosen < 0) break;
    EngineState& s = engines_[static_cast<uint32_t>(chosen)];
    const DmaTransaction& x = s.xfers[s.next_xfer++];
    mem::Request r;
    r.addr = x.phys;
    r.is_write = x.write;
    r.id = (epoch_ & 0xFFFF) << kEpochShift | (next_request_id_++ << 1) | static_cast<uint64_t>(chosen);
    dram_->send_transaction(r, x.bursts * static_cast<uint32_t>(burst));
    s.outstanding += x.bursts;
    bus_rr_ = static_cast<uint32_t>(chosen) + 1;
    bus_free_at_ = std::max(bus_free_at_, now_) + uint64_t{x.bursts} * bus_cycles_per_burst_;
    // Not progress for the loop: issuing changes nothing dispatch, start_engines or
    // retire_barrier read, and this loop has already issued all the bus allows now.
  }

  for (uint32_t e = 0; e < 2; ++e) {
    EngineState& s = engines_[e];
    if (!s.busy || s.hung || s.next_xfer < s.xfers.size() || s.outstanding > 0) continue;
    if (s.issue_at > now_) continue;
    const uint64_t end = std::max(s.issue_at, npu_cycle_at(s.last_done_dram));
    finish_command(e, std::min(end, now_));
    progress = true;
  }
  return progress;
}

// The next cycle at which the device can change state. DRAM events matter to the DMA
// engines in two ways: any DRAM command may free queue space (an engine whose next burst
// the DRAM cannot accept must look after each one), but an engine at its outstanding
// limit, or with only completions to wait for, can do nothing before one of its bursts
// completes. When no engine waits for queue space, the DRAM model is stepped ahead here
// through the events that complete nothing (each would otherwise cost a pass of the
// device loop that changes nothing) up to the first cycle at which the device sees a
// completion. It is never stepped to a cycle the device will not reach: only below
// `limit` (run_loop stops there) and below the device's own next event.
uint64_t Device::next_event(uint64_t limit) {
  uint64_t t = kNever;
  bool queue_wait = false;       // a ready burst waits for DRAM queue space
  bool completion_wait = false;  // bursts in flight: their completions are events
  for (uint32_t e = 0; e < kEngines; ++e) {
    const EngineState& s = engines_[e];
    if (!s.busy) continue;
    if (e >= 2) {
      t = std::min(t, s.end);
      continue;
    }
    if (s.hung) continue;
    if (s.issue_at > now_) {
      t = std::min(t, s.issue_at);
      continue;
    }
    if (s.outstanding > 0) completion_wait = true;
    if (s.next_xfer < s.xfers.size()) {
      if (!under_outstanding_limit(s, s.xfers[s.next_xfer])) {
        // At the outstanding limit: its page walk and the bus do not matter before a
        // completion (which completion_wait covers).
      } else if (s.xfers[s.next_xfer].ready > now_) {
        t = std::min(t, s.xfers[s.next_xfer].ready);  // its page is still being walked
      } else if (bus_free_at_ > now_) {
        t = std::min(t, bus_free_at_);
      } else {
        queue_wait = true;  // the DRAM cannot accept it yet
      }
    }
  }
  if (queue_wait) {
    const uint64_t ev = dram_->next_event_cycle();
    if (ev != mem::kNever) t = std::min(t, std::max(now_ + 1, npu_cycle_at(ev + 1)));
  } else if (completion_wait) {
    t = std::min(t, next_completion(std::min(t, limit)));
  }
  return t;
}

// The first cycle after now() at which the device sees a DRAM completion, stepping the
// DRAM model through the events before it; a value >= `bound` when there is none before
// `bound` (the DRAM model is then left before `bound`). The completions found are left in
// dram_done_ for pump_dma, which sees the DRAM model already at that cycle.
uint64_t Device::next_completion(uint64_t bound) {
  for (;;) {
    const uint64_t ev = dram_->next_event_cycle();
    if (ev == mem::kNever) return kNever;
    const uint64_t at = std::max(now_ + 1, npu_cycle_at(ev + 1));
    if (at >= bound) return at;
    dram_->tick_until(dram_cycle_at(at));
    if (!dram_done_.empty()) return at;
  }
}

void Device::advance_to(uint64_t cycle) {
  if (job_active_) counters_[perf(isa::Perf::kCycles)] += cycle - now_;
  now_ = cycle;
  for (uint32_t e = 2; e < kEngines; ++e) {
    EngineState& s = engines_[e];
    if (s.busy && s.end <= now_) finish_command(e, s.end);
  }
}

bool Device::run_loop(uint64_t limit, const std::function<bool()>* stop) {
  while (!halted_) {
    bool progress = true;
    while (progress && !halted_) {
      progress = pump_dma();
      progress |= dispatch();
      progress |= start_engines();
      progress |= retire_barrier();
    }
    if (stop && (*stop)()) return true;
    if (halted_ || !busy()) break;
    const uint64_t t = next_event(limit);
    if (t == kNever) {
      hung_ = true;  // nothing can ever happen: every queue waits on something that won't
      break;
    }
    if (t >= limit) break;
    advance_to(t);
  }
  return stop && (*stop)();
}

void Device::run_until(uint64_t limit) {
  run_loop(limit, nullptr);
  if (limit != kNever && limit > now_) advance_to(limit);
}

void Device::run_until_event(uint64_t limit, const std::function<bool()>& stop) {
  if (run_loop(limit, &stop)) return;
  if (limit != kNever && limit > now_) advance_to(limit);
}

uint64_t Device::run_until_idle(uint64_t max_cycles) {
  const uint64_t limit = max_cycles >= kNever - now_ ? kNever : now_ + max_cycles;
  run_loop(limit, nullptr);
  if (busy() && !halted_ && !hung_ && limit != kNever && limit > now_) advance_to(limit);
  return now_;
}

nlohmann::json Device::stats_json() const {
  nlohmann::json j;
  const Counters c = counters();
  nlohmann::json counters = nlohmann::json::object();
  for (uint32_t i = 0; i < isa::kPerfCount; ++i) {
    counters[isa::to_string(static_cast<isa::Perf>(i))] = c[i];
  }
  j["config"] = npu_config_json(config_);
  j["cycles_now"] = now_;
  j["counters"] = counters;
  const mem::MemoryStats s = dram_->stats();
  j["dram"] = {{"reads", s.total.reads},
               {"writes", s.total.writes},
               {"row_hit_rate", s.row_hit_rate()},
               {"refreshes", s.total.refreshes},
               {"mean_latency_ns", dram_->cycles_to_ns(s.latency.mean())},
               {"p99_latency_ns", dram_->cycles_to_ns(static_cast<double>(s.latency.percentile(0.99)))}};
  return j;
}

}  // namespace tessel::sim::npu
