// Many jobs from many threads and contexts at once through the driver on the simulated
// device: every job completes, in its in-fence order, with its own data; and the same
// while another context's jobs fail (device errors, timeouts, refused submissions) and
// reset the device in between. Bounded (4 threads x 2 contexts x 25 jobs) so that it
// stays quick under the sanitizers; scripts/test.sh also runs it under ThreadSanitizer,
// which checks the driver's locking (submit, wait, the interrupt thread, the watchdog).
//
// Catch2 assertions are not thread-safe: worker threads only record what went wrong;
// the test thread checks the records.
#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "driver_test_util.hpp"

using tessel::driver::SimNpu;
namespace isa = tessel::isa;
// Bo and the command builders (plain values, safe on worker threads); not File, whose
// REQUIREs belong on the test thread.
using tessel::test::Bo;
using tessel::test::encode;
using tessel::test::load;
using tessel::test::signal;
using tessel::test::store;
using tessel::test::wait_on;

namespace {

constexpr int kThreads = 4;
constexpr int kContextsPerThread = 2;
constexpr int kJobs = 25;            // per context
constexpr uint32_t kSlot = 16384;    // bytes of fresh data per job
constexpr uint64_t kWaitNs = 120'000'000'000ull;  // a lost job shows as a failure, not a hang

// The byte at `i` of job `job`'s fresh data in context `ctx` of thread `thread`: distinct
// for every (thread, ctx, job) so that a job reading another's slot is caught.
uint8_t pattern(int thread, int ctx, int job, uint32_t i) {
  const uint32_t id = static_cast<uint32_t>((thread * kContextsPerThread + ctx) * kJobs + job);
  return static_cast<uint8_t>((i * 7 + id * 37 + (i >> 8) * 11) ^ (id >> 3));
}

// Records failures from a worker thread (read by the test thread after join()).
struct Errors {
  std::vector<std::string> list;
  void add(const std::string& what) {
    if (list.size() < 20) list.push_back(what);
  }
};

// One context's buffers and jobs, driven by one worker thread.
struct Context {
  int fd = -1;
  Bo src, dst, cmd;  // src: kJobs slots of kSlot; dst: kJobs slots of 2 * kSlot
  std::vector<uint64_t> fences;
};

bool make_bo(SimNpu& npu, int fd, uint64_t size, Bo* out, Errors& err) {
  tessel_bo_create c{};
  c.size = size;
  int rc = npu.ioctl(fd, TESSEL_IOCTL_BO_CREATE, &c);
  if (rc != 0) {
    err.add("BO_CREATE " + std::to_string(rc));
    return false;
  }
  tessel_bo_mmap m{};
  m.handle = c.handle;
  rc = npu.ioctl(fd, TESSEL_IOCTL_BO_MMAP, &m);
  out->handle = c.handle;
  out->va = static_cast<uint32_t>(c.va);
  out->size = size;
  out->host = rc == 0 ? static_cast<uint8_t*>(npu.mmap(fd, m.offset, size)) : nullptr;
  if (out->host == nullptr) err.add("BO_MMAP/mmap " + std::to_string(rc));
  return out->host != nullptr;
}

// Job j of a context: dst[j] = src[j] followed by the first half of dst[j-1] (src[0] for
// job 0). Reading what the previous job wrote checks the in-fence order with data.
std::vector<uint32_t> chain_job(const Context& c, int j) {
  const uint32_t src = c.src.va + static_cast<uint32_t>(j) * kSlot;
  const uint32_t prev = j == 0 ? c.src.va : c.dst.va + static_cast<uint32_t>(j - 1) * 2 * kSlot;
  const uint32_t dst = c.dst.va + static_cast<uint32_t>(j) * 2 * kSlot;
  return encode({load(src, 0, kSlot), load(prev, kSlot, kSlot), signal(isa::Engine::kDmaIn, 0),
                 wait_on(isa::Engine::kDmaOut, 0), store(dst, 0, 2 * kSlot), isa::End{}});
}

int wait_fence(SimNpu& npu, int fd, uint64_t fence, uint32_t* status) {
  tessel_wait w{};
  w.fence = fence;
  w.timeout_ns = kWaitNs;
  const int rc = npu.ioctl(fd, TESSEL_IOCTL_WAIT, &w);
  *status = w.status;
  return rc;
}

// Submits job j of context `c` with its in-fences; on -EAGAIN (the driver's pending-job
// limit, shared by all threads) waits for this context's oldest unfinished job, or, with
// none, lets the other threads' jobs drain for a moment, and retries, as a well-behaved
// user would.
bool submit_chain(SimNpu& npu, Context& c, int j, const std::vector<uint64_t>& fences,
                  size_t* oldest, int* eagain, Errors& err) {
  const std::vector<uint32_t> words = chain_job(c, j);
  const uint32_t bos[] = {c.src.handle, c.dst.handle};
  for (;;) {
    std::memcpy(c.cmd.host, words.data(), words.size() * 4);  // copied by SUBMIT
    tessel_submit s{};
    s.cmd_handle = c.cmd.handle;
    s.cmd_bytes = static_cast<uint32_t>(words.size() * 4);
    s.bo_count = 2;
    s.bo_handles = reinterpret_cast<uintptr_t>(bos);
    s.in_fences = reinterpret_cast<uintptr_t>(fences.data());
    s.in_fence_count = static_cast<uint32_t>(fences.size());
    const int rc = npu.ioctl(c.fd, TESSEL_IOCTL_SUBMIT, &s);
    if (rc == 0) {
      c.fences.push_back(s.fence);
      return true;
    }
    if (rc != -EAGAIN || ++*eagain > 100000) {
      err.add("SUBMIT job " + std::to_string(j) + ": " + std::to_string(rc) + " reason " +
              std::to_string(s.error_reason));
      return false;
    }
    uint32_t status = 0;
    if (*oldest < c.fences.size()) {
      if (wait_fence(npu, c.fd, c.fences[(*oldest)++], &status) != 0) {
        err.add("WAIT after -EAGAIN failed");
        return false;
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

void worker(SimNpu& npu, int t, Context* ctx, Errors& err, int* eagain) {
  for (int k = 0; k < kContextsPerThread; ++k) {
    Context& c = ctx[k];
    c.fd = npu.open();
    if (c.fd < 0) {
      err.add("open " + std::to_string(c.fd));
      return;
    }
    if (!make_bo(npu, c.fd, uint64_t{kJobs} * kSlot, &c.src, err) ||
        !make_bo(npu, c.fd, uint64_t{kJobs} * 2 * kSlot, &c.dst, err) ||
        !make_bo(npu, c.fd, 4096, &c.cmd, err)) {
      return;
    }
  }
  size_t oldest[kContextsPerThread] = {};
  for (int j = 0; j < kJobs; ++j) {
    for (int k = 0; k < kContextsPerThread; ++k) {
      Context& c = ctx[k];
      // Fresh data for this job only: no submitted job reads this slot yet.
      for (uint32_t i = 0; i < kSlot; ++i) c.src.host[j * kSlot + i] = pattern(t, k, j, i);
      // In-fences: this context's previous job, and the other context's job j (a
      // dependency across contexts).
      std::vector<uint64_t> fences;
      if (j > 0) fences.push_back(c.fences.back());
      if (k > 0) fences.push_back(ctx[k - 1].fences.back());
      if (!submit_chain(npu, c, j, fences, &oldest[k], eagain, err)) return;
    }
    // Now and then block on a recent job, so that waits overlap other threads' submits.
    if (j % 5 == 4) {
      uint32_t status = 0;
      if (wait_fence(npu, ctx[0].fd, ctx[0].fences[static_cast<size_t>(j) - 2], &status) != 0 ||
          status != TESSEL_JOB_DONE) {
        err.add("WAIT mid-run: status " + std::to_string(status));
      }
    }
  }
  for (int k = 0; k < kContextsPerThread; ++k) {
    const Context& c = ctx[k];
    for (size_t j = 0; j < c.fences.size(); ++j) {
      uint32_t status = 0;
      const int rc = wait_fence(npu, c.fd, c.fences[j], &status);
      if (rc != 0 || status != TESSEL_JOB_DONE) {
        err.add("job " + std::to_string(j) + " of context " + std::to_string(k) + ": rc " +
                std::to_string(rc) + " status " + std::to_string(status));
      }
    }
  }
}

// A context that fails in every way a job can while the workers run: a command the
// device refuses (SEM_WAIT on a semaphore it does not have: INVALID_COMMAND), a job that
// deadlocks (SEM_WAIT nobody signals) and times out, and a submission validation refuses;
// plus BO churn. Each device failure resets the device under the workers' queued jobs.
void saboteur(SimNpu& npu, Errors& err, int rounds) {
  const int fd = npu.open();
  if (fd < 0) {
    err.add("open " + std::to_string(fd));
    return;
  }
  Bo cmd, buf;
  if (!make_bo(npu, fd, 4096, &cmd, err) || !make_bo(npu, fd, 4096, &buf, err)) return;
  isa::SemWait no_such_sem = wait_on(isa::Engine::kMac, 255);  // the default device has 32
  isa::SemWait never = wait_on(isa::Engine::kVec, 7);
  const std::vector<uint32_t> streams[3] = {
      encode({isa::Nop{}, no_such_sem, isa::End{}}),
      encode({never, isa::End{}}),
      encode({load(buf.va + 4000, 0, 200), isa::End{}}),  // past the BO's end
  };
  const uint32_t expect_status[2] = {TESSEL_JOB_INVALID_COMMAND, TESSEL_JOB_TIMEOUT};
  for (int r = 0; r < rounds; ++r) {
    const int kind = r % 3;
    std::memcpy(cmd.host, streams[kind].data(), streams[kind].size() * 4);
    tessel_submit s{};
    s.cmd_handle = cmd.handle;
    s.cmd_bytes = static_cast<uint32_t>(streams[kind].size() * 4);
    s.bo_count = 1;
    s.bo_handles = reinterpret_cast<uintptr_t>(&buf.handle);
    s.timeout_ns = 200'000;  // 200 us of device time
    const int rc = npu.ioctl(fd, TESSEL_IOCTL_SUBMIT, &s);
    if (kind == 2) {
      if (rc != -EACCES || s.error_reason != TESSEL_SUBMIT_OUT_OF_BOUNDS) {
        err.add("refused submission: rc " + std::to_string(rc));
      }
    } else if (rc == 0) {
      uint32_t status = 0;
      if (wait_fence(npu, fd, s.fence, &status) != 0 || status != expect_status[kind]) {
        err.add("failing job " + std::to_string(r) + ": status " + std::to_string(status));
      }
    } else if (rc != -EAGAIN) {  // the workers may hold every pending slot: skip a round
      err.add("SUBMIT " + std::to_string(rc));
    }
    // BO churn under the same lock as the workers' submissions.
    Bo tmp;
    if (!make_bo(npu, fd, 8192, &tmp, err)) return;
    tessel_bo_destroy d{};
    d.handle = tmp.handle;
    if (npu.ioctl(fd, TESSEL_IOCTL_BO_DESTROY, &d) != 0) err.add("BO_DESTROY");
  }
  if (npu.close(fd) != 0) err.add("close");
}

// Runs the workers (and the saboteur, if `saboteur_rounds` > 0) and checks every job.
void run_and_check(int saboteur_rounds) {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  Context ctx[kThreads][kContextsPerThread];
  Errors errors[kThreads + 1];
  int eagain[kThreads] = {};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back(worker, std::ref(npu), t, ctx[t], std::ref(errors[t]), &eagain[t]);
  }
  if (saboteur_rounds > 0) {
    threads.emplace_back(saboteur, std::ref(npu), std::ref(errors[kThreads]), saboteur_rounds);
  }
  for (std::thread& th : threads) th.join();

  int retries = 0;
  for (int t = 0; t <= kThreads; ++t) {
    INFO("thread " << t);
    for (const std::string& e : errors[t].list) FAIL_CHECK(e);
    if (t < kThreads) retries += eagain[t];
  }
  INFO("-EAGAIN retries: " << retries);
  // Every job's output: its own fresh data, then its predecessor's (job 0: its own again).
  for (int t = 0; t < kThreads; ++t) {
    for (int k = 0; k < kContextsPerThread; ++k) {
      const Context& c = ctx[t][k];
      REQUIRE(c.fences.size() == static_cast<size_t>(kJobs));
      int bad_jobs = 0;
      for (int j = 0; j < kJobs; ++j) {
        const uint8_t* out = c.dst.host + static_cast<size_t>(j) * 2 * kSlot;
        const int prev = j == 0 ? 0 : j - 1;
        bool ok = true;
        for (uint32_t i = 0; i < kSlot && ok; ++i) {
          ok = out[i] == pattern(t, k, j, i) && out[kSlot + i] == pattern(t, k, prev, i);
        }
        if (!ok) ++bad_jobs;
      }
      INFO("thread " << t << " context " << k);
      CHECK(bad_jobs == 0);
      // Fences are unique across the device and increase in submission order.
      for (size_t j = 1; j < c.fences.size(); ++j) CHECK(c.fences[j] > c.fences[j - 1]);
    }
  }
  // Each job ran exactly once, start to END (the device's JOBS counter over it is 1).
  for (int t = 0; t < kThreads; ++t) {
    for (int k = 0; k < kContextsPerThread; ++k) {
      const Context& c = ctx[t][k];
      int wrong = 0;
      for (const uint64_t fence : c.fences) {
        uint64_t values[TESSEL_PERF_COUNT] = {};
        tessel_perf p{};
        p.fence = fence;
        p.values = reinterpret_cast<uintptr_t>(values);
        p.count = TESSEL_PERF_COUNT;
        if (npu.ioctl(c.fd, TESSEL_IOCTL_PERF, &p) != 0 || values[TESSEL_PERF_JOBS] != 1) ++wrong;
      }
      CHECK(wrong == 0);
      CHECK(npu.close(c.fd) == 0);
    }
  }
}

}  // namespace

TEST_CASE("stress: 4 threads x 2 contexts x 25 chained jobs all complete with their data") {
  run_and_check(0);
}

TEST_CASE("stress: the same while another context's jobs fail and reset the device") {
  run_and_check(30);
}
