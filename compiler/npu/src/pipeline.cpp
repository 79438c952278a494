// The pass pipeline: runs the passes in order, verifies the state after each, writes the
// requested dump, and builds the report.
#include <algorithm>
#include <ostream>
#include <sstream>

#include "plan.hpp"
#include "tessel/compiler/compile.hpp"
#include "tessel/ir/error.hpp"
#include "tessel/ir/verify.hpp"
#include "tiles.hpp"

namespace tessel::compiler {

namespace {

std::string shape_str(const std::vector<int32_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? "," : "") + std::to_string(s[i]);
  return o + "]";
}

// ---------------------------------------------------------------------------- verifiers

[[noreturn]] void broken(const std::string& pass, const std::string& what) {
  throw Error("compiler bug: after pass '" + pass + "': " + what);
}

void verify_partition(const Plan& p) {
  size_t next = 0;
  for (const Segment& s : p.segments)
    for (size_t i : s.ops) {
      if (i != next++) broken("partition", "segments do not cover the operators in order");
      if (s.npu != !p.cpu_reason[i]) broken("partition", "operator " + std::to_string(i) + " in the wrong segment");
    }
  if (next != p.graph.ops.size()) broken("partition", "segments miss operators");
}

void verify_lower(const Plan& p) {
  for (const NpuOp& n : p.npu_ops) {
    auto inside = [&](uint32_t off, size_t bytes) { return off + bytes <= p.constants.size(); };
    if (!inside(n.weights_off, n.weights.size()) || !inside(n.qp_off, n.qp.size()) || !inside(n.table_off, n.table.size()))
      broken("lower", p.graph.describe_op(n.op) + ": constants outside the constant region");
    if (n.output < 0) broken("lower", p.graph.describe_op(n.op) + ": no output");
  }
}

void verify_tile(const Plan& p) {
  for (const NpuOp& n : p.npu_ops) {
    if (n.kind == NpuKind::alias) continue;
    const uint64_t end = std::max({uint64_t(n.w_slot[1]) + n.w_slot_bytes, uint64_t(n.in_slot[1]) + n.in_slot_bytes,
                                   uint64_t(n.out_slot[1]) + n.out_slot_bytes});
    if (end > p.hw->sram_bytes()) broken("tile", p.graph.describe_op(n.op) + ": slots exceed the SRAM");
    // Every tile's commands must pass the NPU's own operand checks.
    bool ok = true;
    for_each_tile(n, n.tile, Bases{}, [&](const Tile& t) {
      for (const auto* xs : {&t.w_loads, &t.in_loads, &t.stores})
        for (const Xfer& x : *xs)
          if (uint64_t(x.sram) + uint64_t(x.sram_s2) * (x.n2 - 1) + uint64_t(x.sram_s1) * (x.n1 - 1) + x.len0 >
              p.hw->sram_bytes())
            ok = false;
    });
    if (!ok) broken("tile", p.graph.describe_op(n.op) + ": a transfer leaves the SRAM");
  }
}

void verify_arena(const Plan& p) {
  for (const NpuOp& n : p.npu_ops) {
    std::vector<int> ts;
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (k >= 2 || n.res_in[k] < 0) ts.push_back(n.inputs[k]);
    if (n.res_out < 0) ts.push_back(n.output);
    for (int t : ts) {
      const int64_t off = p.arena_offset[static_cast<size_t>(t)];
      if (off < 0 || uint64_t(off) + p.graph.tensors[static_cast<size_t>(t)].num_bytes() > p.arena_bytes)
        broken("arena", p.graph.describe_tensor(t) + " has no valid arena place");
    }
  }
}

void verify_schedule(const Plan& p) {
  for (const NpuSegment& s : p.npu_segments) {
    size_t at = s.first_word, end = size_t{s.first_word} + s.word_count;
    bool ended = false;
    while (at < end) {
      const isa::DecodeResult d = isa::decode(p.words.data() + at, end - at);
      if (!d.ok) broken("schedule", "undecodable command at word " + std::to_string(at) + ": " + d.error);
      ended = std::holds_alternative<isa::End>(d.command);
      at += d.words;
    }
    if (!ended) broken("schedule", "a segment does not end with END");
  }
}

// -------------------------------------------------------------------------------- dumps

void dump_graph(const Plan& p, std::ostream& o) {
  const ir::Graph& g = p.graph;
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const ir::Op& op = g.ops[i];
    o << "op " << i << " " << op.type_name << " '" << op.name << "'";
    for (int t : op.inputs)
      if (t >= 0) o << " " << shape_str(g.tensors[static_cast<size_t>(t)].shape);
    o << " ->";
    for (int t : op.outputs) o << " " << shape_str(g.tensors[static_cast<size_t>(t)].shape);
    if (!p.cpu_reason.empty()) o << (p.cpu_reason[i] ? "  CPU: " + *p.cpu_reason[i] : "  NPU");
    o << "\n";
  }
}

void dump_plan(const Plan& p, std::ostream& o, bool tiling) {
  for (const NpuOp& n : p.npu_ops) {
    o << "op " << n.op << " " << p.graph.ops[n.op].type_name << " -> " << npu_kind_name(n.kind)
      << " weights " << n.weights.size() << " B @" << n.weights_off << " qp " << n.qp.size() << " B @"
      << n.qp_off << " table " << n.table.size() << " B, " << n.macs << " MACs";
    if (tiling && n.kind != NpuKind::alias)
      o << "; tile rows " << n.tile.rows << " chans " << n.tile.chans
        << (n.tile.channels_outer ? " (channels outer)" : " (rows outer)") << ", " << n.tiles << " tiles, est "
        << n.est_cycles << " cycles (compute " << n.est_compute << ", dma " << n.est_dma << "), DRAM "
        << n.dram_bytes << " B; SRAM w " << n.w_slot[0] << "/" << n.w_slot[1] << " in " << n.in_slot[0] << "/"
        << n.in_slot[1] << " out " << n.out_slot[0] << "/" << n.out_slot[1];
    if (n.res_in[0] >= 0 || n.res_in[1] >= 0 || n.res_out >= 0)
      o << "; SRAM-resident in " << n.res_in[0] << "/" << n.res_in[1] << " out " << n.res_out << " (slots below "
        << n.sram_limit << ")";
    o << "\n";
  }
}

void dump_arena(const Plan& p, std::ostream& o) {
  o << "arena " << p.arena_bytes << " bytes\n";
  for (size_t t = 0; t < p.arena_offset.size(); ++t)
    if (p.arena_offset[t] >= 0)
      o << "  " << p.graph.describe_tensor(static_cast<int>(t)) << " @" << p.arena_offset[t] << " "
        << p.graph.tensors[t].num_bytes() << " B\n";
}

void dump_words(const Plan& p, std::ostream& o) {
  for (size_t i = 0; i < p.graph.ops.size(); ++i) {
    const auto [first, count] = p.op_words[i];
    if (count == 0) continue;
    o << "; " << p.graph.describe_op(i) << "\n";
    size_t at = first;
    while (at < first + count) {
      const isa::DecodeResult d = isa::decode(p.words.data() + at, first + count - at);
      if (!d.ok) break;
      o << "  " << at * 4 << ": " << isa::disassemble(d.command) << "\n";
      at += d.words;
    }
  }
}

nlohmann::json report_of(const Plan& p, const Loadable& l) {
  const ir::Graph& g = p.graph;
  nlohmann::json layers = nlohmann::json::array();
  uint64_t total_est = 0, total_macs = 0, npu_ops = 0, cpu_ops = 0;
  nlohmann::json fallbacks = nlohmann::json::array();
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const ir::Op& op = g.ops[i];
    nlohmann::json j;
    j["index"] = i;
    j["name"] = op.name;
    j["op"] = op.type_name;
    nlohmann::json ins = nlohmann::json::array(), outs = nlohmann::json::array();
    for (int t : op.inputs)
      if (t >= 0 && !g.tensors[static_cast<size_t>(t)].is_constant) ins.push_back(g.tensors[static_cast<size_t>(t)].shape);
    for (int t : op.outputs) outs.push_back(g.tensors[static_cast<size_t>(t)].shape);
    j["input_shapes"] = ins;
    j["output_shapes"] = outs;
    if (p.cpu_reason[i]) {
      j["target"] = "cpu";
      j["reason"] = *p.cpu_reason[i];
      fallbacks.push_back({{"index", i}, {"name", op.name}, {"op", op.type_name}, {"reason", *p.cpu_reason[i]}});
      ++cpu_ops;
    } else {
      const NpuOp& n = p.npu_ops[static_cast<size_t>(p.npu_op_of[i])];
      j["target"] = "npu";
      j["kind"] = npu_kind_name(n.kind);
      j["macs"] = n.macs;
      j["tiles"] = n.tiles;
      j["tile"] = {{"rows", n.tile.rows}, {"chans", n.tile.chans}, {"channels_outer", n.tile.channels_outer}};
      j["estimated_cycles"] = n.est_cycles;
      j["estimated_compute_cycles"] = n.est_compute;
      j["estimated_dma_cycles"] = n.est_dma;
      j["dram_bytes"] = n.dram_bytes;
      j["compulsory_dram_bytes"] = n.compulsory_bytes;
      j["bound"] = l.layers[i].bound;
      j["command_words"] = p.op_words[i].second;
      total_est += n.est_cycles;
      total_macs += n.macs;
      ++npu_ops;
    }
    layers.push_back(j);
  }
  return {{"model", g.source},
          {"hardware", p.hw->name},
          {"hardware_hash", l.hardware_hash},
          {"layers", layers},
          {"fallbacks", fallbacks},
          {"npu_ops", npu_ops},
          {"cpu_ops", cpu_ops},
          {"macs", total_macs},
          {"estimated_cycles", total_est},
          {"command_words", l.commands.size()},
          {"constant_bytes", p.constants.size()},
          {"arena_bytes", p.arena_bytes},
          {"npu_segments", l.npu_segments.size()},
          {"cpu_segments", l.cpu_segments.size()}};
}

}  // namespace

const std::vector<std::string>& pass_names() {
  static const std::vector<std::string> names = {"canonicalize", "partition", "lower", "tile",
                                                 "residency", "arena", "schedule", "package"};
  return names;
}

CompileResult compile(const ir::Graph& graph, const sim::npu::NpuConfig& hw, const CompileOptions& options) {
  if (!options.dump_after.empty() &&
      std::find(pass_names().begin(), pass_names().end(), options.dump_after) == pass_names().end()) {
    std::string known;
    for (const auto& n : pass_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown pass '" + options.dump_after + "' for --dump-after (passes: " + known + ")");
  }
  Plan p;
  p.hw = &hw;
  p.graph = graph;
  auto after = [&](const char* pass, const std::function<void(std::ostream&)>& dump) {
    if (options.dump && options.dump_after == pass) {
      *options.dump << "=== after " << pass << "\n";
      dump(*options.dump);
    }
  };
  canonicalize(p);
  ir::verify(p.graph);
  after("canonicalize", [&](std::ostream& o) { dump_graph(p, o); });
  partition(p);
  verify_partition(p);
  after("partition", [&](std::ostream& o) { dump_graph(p, o); });
  lower(p);
  verify_lower(p);
  after("lower", [&](std::ostream& o) { dump_plan(p, o, false); });
  tile(p);
  verify_tile(p);
  after("tile", [&](std::ostream& o) { dump_plan(p, o, true); });
  residency(p);
  verify_tile(p);
  after("residency", [&](std::ostream& o) { dump_plan(p, o, true); });
  plan_arena(p);
  verify_arena(p);
  after("arena", [&](std::ostream& o) { dump_arena(p, o); });
  schedule(p);
  verify_schedule(p);
  after("schedule", [&](std::ostream& o) { dump_words(p, o); });
  CompileResult r;
  r.loadable = package(p);
  validate_loadable(r.loadable, graph.source);
  after("package", [&](std::ostream& o) {
    o << r.loadable.commands.size() << " command words, " << r.loadable.npu_segments.size() << " NPU segments, "
      << r.loadable.cpu_segments.size() << " CPU segments, " << r.loadable.tensors.size() << " tensors\n";
  });
  r.report = report_of(p, r.loadable);
  return r;
}

}  // namespace tessel::compiler
