// tessel simbench: how fast the NPU model simulates. Runs a large synthetic convolution
// layer as a tiled, double-buffered command stream (weights loaded once; per tile: DMA
// the input rows in, CONV, DMA the output rows out, ordered by semaphores) on the full
// device model with the DRAM model on and exact functional results, and reports
// simulated cycles per host second (median of --repeat runs). The output is checked
// against the reference kernel once, outside the timed runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "tessel/io/files.hpp"
#include "tessel/ir/error.hpp"
#include "tessel/kernels/conv.hpp"
#include "tessel/sim/npu/device.hpp"
#include "tessel/sim/npu/simple_host.hpp"
#include "tessel_isa_commands.hpp"
#include "tessel_npu_isa.h"

namespace tessel::tools {
namespace {

struct SimbenchOptions {
  std::string arch = "default";
  int size = 112, in_c = 128, out_c = 128;  // 1.85 G MACs: a large, tiled layer
  int repeat = 5;
  bool verify = true;
  std::string json;
};

struct Layer {
  int h, w, cin, cout;
  std::vector<int8_t> input, weights;
  std::vector<int32_t> qp;  // {bias, multiplier, shift} per output channel
};

Layer make_layer(const SimbenchOptions& o) {
  Layer l{o.size, o.size, o.in_c, o.out_c, {}, {}, {}};
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> b(-128, 127);
  l.input.resize(static_cast<size_t>(l.h) * l.w * l.cin);
  l.weights.resize(static_cast<size_t>(l.cout) * 9 * l.cin);
  for (auto& v : l.input) v = static_cast<int8_t>(b(rng));
  for (auto& v : l.weights) v = static_cast<int8_t>(b(rng));
  for (int c = 0; c < l.cout; ++c) l.qp.insert(l.qp.end(), {c * 10, 1518500250, -9});
  return l;
}

struct Stream {
  std::vector<uint32_t> words;
  uint32_t out_va = 0;
  int tiles = 0, tile_rows = 0;
};

// The tiled, double-buffered command stream for a 3x3 stride-1 SAME convolution.
Stream build_stream(const Layer& l, const sim::npu::NpuConfig& cfg, sim::npu::SimpleHost& host) {
  namespace isa = tessel::isa;
  const uint64_t wbytes = l.weights.size(), qbytes = l.qp.size() * 4;
  const uint64_t in_row = uint64_t(l.w) * l.cin, out_row = uint64_t(l.w) * l.cout;
  const uint64_t sram = cfg.sram_bytes();
  const uint64_t fixed = (wbytes + 63) / 64 * 64 + (qbytes + 63) / 64 * 64;
  if (fixed + 2 * (3 * in_row + out_row) > sram) {
    throw Error("simbench: the layer's weights and one row of tiles do not fit the " +
                std::to_string(sram) + "-byte SRAM of " + cfg.name + "; use smaller --channels");
  }
  // Two input slots of (T + 2) rows and two output slots of T rows.
  const uint64_t t_rows =
      std::min<uint64_t>(uint64_t(l.h), ((sram - fixed) / 2 - 2 * in_row) / (in_row + out_row));
  const uint32_t w_sram = 0, q_sram = static_cast<uint32_t>((wbytes + 63) / 64 * 64);
  const uint32_t in_slot[2] = {static_cast<uint32_t>(fixed),
                               static_cast<uint32_t>(fixed + (t_rows + 2) * in_row)};
  const uint32_t out_base = static_cast<uint32_t>(fixed + 2 * (t_rows + 2) * in_row);
  const uint32_t out_slot[2] = {out_base, static_cast<uint32_t>(out_base + t_rows * out_row)};

  const uint32_t in_va = host.map(l.input.size()), w_va = host.map(wbytes),
                 q_va = host.map(qbytes);
  Stream s;
  s.out_va = host.map(uint64_t(l.h) * out_row);
  host.write(in_va, l.input.data(), l.input.size());
  host.write(w_va, l.weights.data(), wbytes);
  host.write(q_va, l.qp.data(), qbytes);

  auto load = [](uint32_t dram, uint32_t sram_addr, uint64_t bytes) {
    isa::DmaLoad d;
    d.dram_addr = dram;
    d.sram_addr = sram_addr;
    d.len0 = static_cast<uint32_t>(bytes);
    d.n1 = d.n2 = d.n3 = 1;
    return d;
  };
  const auto dma_in = static_cast<uint8_t>(isa::Engine::kDmaIn);
  const auto dma_out = static_cast<uint8_t>(isa::Engine::kDmaOut);
  const auto mac = static_cast<uint8_t>(isa::Engine::kMac);
  // Semaphores: 0 weights loaded; 1+s input slot s loaded; 3+s input slot s free;
  // 5+s output slot s computed; 7+s output slot s stored.
  std::vector<isa::Command> cmds = {load(w_va, w_sram, wbytes), load(q_va, q_sram, qbytes),
                                    isa::SemSignal{dma_in, 0, 0}, isa::SemWait{mac, 0, 0}};
  s.tile_rows = static_cast<int>(t_rows);
  for (int r0 = 0, i = 0; r0 < l.h; r0 += static_cast<int>(t_rows), ++i) {
    const int slot = i % 2;
    const int rows = std::min<int>(static_cast<int>(t_rows), l.h - r0);
    const int first = std::max(0, r0 - 1), last = std::min(l.h - 1, r0 + rows);
    const auto sem = [slot](int base) { return static_cast<uint8_t>(base + slot); };
    if (i >= 2) cmds.push_back(isa::SemWait{dma_in, sem(3), 0});
    cmds.push_back(load(in_va + static_cast<uint32_t>(first * in_row), in_slot[slot],
                        uint64_t(last - first + 1) * in_row));
    cmds.push_back(isa::SemSignal{dma_in, sem(1), 0});
    isa::Conv c;
    c.in_signed = c.w_signed = c.out_signed = 1;
    c.depth_multiplier = 1;
    c.in_addr = in_slot[slot];
    c.in_h = static_cast<uint16_t>(last - first + 1);
    c.in_w = static_cast<uint16_t>(l.w);
    c.in_c = c.in_pixel_stride = static_cast<uint16_t>(l.cin);
    c.out_h = static_cast<uint16_t>(rows);
    c.out_w = static_cast<uint16_t>(l.w);
    c.out_c = c.out_pixel_stride = static_cast<uint16_t>(l.cout);
    c.kernel_h = c.kernel_w = 3;
    c.stride_h = c.stride_w = c.dilation_h = c.dilation_w = 1;
    c.pad_top = r0 == 0 ? 1 : 0;
    c.pad_left = 1;
    c.w_addr = w_sram;
    c.qp_addr = q_sram;
    c.out_addr = out_slot[slot];
    c.in_zp = 1;
    c.out_zp = -2;
    c.act_min = -128;
    c.act_max = 127;
    cmds.push_back(isa::SemWait{mac, sem(1), 0});
    if (i >= 2) cmds.push_back(isa::SemWait{mac, sem(7), 0});
    cmds.push_back(c);
    cmds.push_back(isa::SemSignal{mac, sem(3), 0});
    cmds.push_back(isa::SemSignal{mac, sem(5), 0});
    isa::DmaStore st;
    st.dram_addr = s.out_va + static_cast<uint32_t>(r0 * out_row);
    st.sram_addr = out_slot[slot];
    st.len0 = static_cast<uint32_t>(rows * out_row);
    st.n1 = st.n2 = st.n3 = 1;
    cmds.push_back(isa::SemWait{dma_out, sem(5), 0});
    cmds.push_back(st);
    cmds.push_back(isa::SemSignal{dma_out, sem(7), 0});
    s.tiles = i + 1;
  }
  cmds.push_back(isa::End{});
  for (const auto& c : cmds) isa::encode(c, s.words);
  return s;
}

std::vector<int8_t> reference(const Layer& l) {
  kernels::ConvParams p;
  p.pad_top = p.pad_left = 1;
  p.input_offset = -1;
  kernels::RequantParams rq;
  rq.output_offset = -2;
  rq.act_min = -128;
  rq.act_max = 127;
  std::vector<int32_t> bias;
  for (int c = 0; c < l.cout; ++c) {
    bias.push_back(l.qp[size_t(c) * 3]);
    rq.multiplier.push_back(l.qp[size_t(c) * 3 + 1]);
    rq.shift.push_back(l.qp[size_t(c) * 3 + 2]);
  }
  std::vector<int8_t> out(size_t(l.h) * l.w * l.cout);
  kernels::conv_2d(p, rq, kernels::Shape{1, l.h, l.w, l.cin}, l.input.data(),
                   kernels::Shape{l.cout, 3, 3, l.cin}, l.weights.data(), bias.data(),
                   kernels::Shape{1, l.h, l.w, l.cout}, out.data());
  return out;
}

int simbench(const SimbenchOptions& o) {
  const sim::npu::NpuConfig cfg = sim::npu::load_npu_preset_or_file(o.arch);
  const Layer layer = make_layer(o);
  std::vector<double> seconds;
  uint64_t cycles = 0, macs = 0, dram_bytes = 0;
  int tiles = 0, tile_rows = 0;
  bool match = true;
  nlohmann::json stats;  // counters, DRAM statistics and the resolved configuration
  // One functional unit for every run, as the runtime keeps one across inferences: run 0
  // prepares the kernels (packed weights, oneDNN primitives), the timed runs reuse them.
  // Each run still gets a fresh device (power-on state: same cycles every run).
  auto functional = std::make_shared<sim::npu::FunctionalUnit>(1);
  for (int run = 0; run < o.repeat + 1; ++run) {  // run 0 warms up (kernel caches)
    sim::npu::Device dev(cfg, 1, functional);
    sim::npu::SimpleHost host(dev);
    const Stream s = build_stream(layer, cfg, host);
    const auto t0 = std::chrono::steady_clock::now();
    host.run(s.words);
    const auto t1 = std::chrono::steady_clock::now();
    if (dev.hung() || dev.read_reg(TESSEL_REG_ERROR_STATUS) != 0) {
      throw Error("simbench: the device did not finish the stream: " + dev.last_error());
    }
    const auto n = dev.counters();
    const uint64_t c = n[size_t(isa::Perf::kCycles)];
    if (run > 0 && c != cycles) throw Error("simbench: simulated cycles differ between runs");
    cycles = c;
    macs = n[size_t(isa::Perf::kMacs)];
    dram_bytes = n[size_t(isa::Perf::kDramReadBytes)] + n[size_t(isa::Perf::kDramWriteBytes)];
    tiles = s.tiles;
    stats = dev.stats_json();
    tile_rows = s.tile_rows;
    if (run > 0) seconds.push_back(std::chrono::duration<double>(t1 - t0).count());
    if (run == 0 && o.verify) {
      std::vector<int8_t> got(size_t(layer.h) * layer.w * layer.cout);
      host.read(s.out_va, got.data(), got.size());
      match = got == reference(layer);
    }
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  const double peak_macs = double(cycles) * double(cfg.macs_per_cycle());
  nlohmann::json j = {
      {"config", cfg.name},
      {"layer", {{"h", layer.h}, {"w", layer.w}, {"in_c", layer.cin}, {"out_c", layer.cout},
                 {"kernel", 3}, {"tiles", tiles}, {"tile_rows", tile_rows}}},
      {"simulated_cycles", cycles},
      {"macs", macs},
      {"mac_utilization", peak_macs > 0 ? double(macs) / peak_macs : 0.0},
      {"dram_bytes", dram_bytes},
      {"host_seconds", {{"median", median}, {"min", seconds.front()}, {"max", seconds.back()}}},
      {"runs", seconds.size()},
      {"cycles_per_second", double(cycles) / median},
      {"macs_per_second", double(macs) / median},
      {"outputs_match_reference", o.verify ? nlohmann::json(match) : nlohmann::json(nullptr)},
      {"stats", stats}};
  const std::string text = j.dump(2) + "\n";
  if (!o.json.empty()) io::write_file(o.json, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  std::printf("%s: %dx%dx%d -> %d conv3x3 in %d tiles: %llu cycles, MAC utilization %.1f %%, "
              "%.3f s host (median of %zu): %.1f M simulated cycles/s%s\n",
              cfg.name.c_str(), layer.h, layer.w, layer.cin, layer.cout, tiles,
              static_cast<unsigned long long>(cycles), 100 * j["mac_utilization"].get<double>(),
              median, seconds.size(), double(cycles) / median / 1e6,
              o.verify ? (match ? ", output matches the reference" : ", OUTPUT DIFFERS FROM THE REFERENCE") : "");
  return o.verify && !match ? 1 : 0;
}

}  // namespace

void add_simbench_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<SimbenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "simbench", "Measure the NPU model's speed (simulated cycles per host second) on a tiled convolution");
  cmd->add_option("--arch", o->arch, "NPU preset (see `tessel presets`) or config YAML file");
  cmd->add_option("--size", o->size, "Input height and width")->check(CLI::Range(3, 1024));
  cmd->add_option("--channels", o->in_c, "Input channels")->check(CLI::Range(1, 2048));
  cmd->add_option("--filters", o->out_c, "Output channels")->check(CLI::Range(1, 2048));
  cmd->add_option("--repeat", o->repeat, "Timed runs (the median is reported)")->check(CLI::Range(1, 100));
  cmd->add_flag("!--no-verify", o->verify, "Skip the check against the reference kernel");
  cmd->add_option("--json", o->json, "Write the results here");
  cmd->callback([o, &action] { action = [o] { return simbench(*o); }; });
}

}  // namespace tessel::tools
