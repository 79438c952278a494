// tessel disasm: a `.tsl` loadable in readable form: its hardware configuration, regions,
// tensors, execution steps, and every NPU command annotated with the model operator it
// belongs to; CPU segments with their operators and fallback reasons.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "tessel/compiler/loadable.hpp"
#include "tessel/ir/error.hpp"
#include "tessel_isa_commands.hpp"

namespace tessel::tools {

namespace {

std::string shape_str(const std::vector<int32_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? "," : "") + std::to_string(s[i]);
  return o + "]";
}

int disasm(const std::string& path) {
  const compiler::Loadable l = compiler::load_loadable(path);
  std::printf("; %s: Tessel loadable %u.%u, model %s\n", path.c_str(), l.major, l.minor, l.model.c_str());
  std::printf("; hardware '%s' (hash %016llx)\n", l.hardware_name.c_str(),
              static_cast<unsigned long long>(l.hardware_hash));
  for (size_t i = 0; i < l.regions.size(); ++i) {
    const auto& r = l.regions[i];
    std::printf("; region %zu '%s' %s at 0x%08x, %u bytes\n", i, r.name.c_str(),
                r.kind == compiler::Region::Kind::constant ? "constant" : "arena", r.va, r.bytes);
  }
  for (size_t i = 0; i < l.tensors.size(); ++i) {
    const auto& t = l.tensors[i];
    std::printf("; tensor %zu '%s' %s %s at region %u + 0x%x (%u bytes)\n", i, t.name.c_str(),
                ir::dtype_name(t.dtype), shape_str(t.shape).c_str(), t.region, t.offset, t.bytes);
  }
  // Layer of each command word range.
  auto layer_at = [&](uint32_t word) -> const compiler::Layer* {
    for (const auto& ly : l.layers)
      if (ly.word_count && word >= ly.first_word && word < ly.first_word + ly.word_count) return &ly;
    return nullptr;
  };
  for (const auto& step : l.steps) {
    if (step.kind == compiler::Step::Kind::cpu) {
      const auto& s = l.cpu_segments.at(step.index);
      std::printf("\n; CPU segment %u: %zu operators\n", step.index, s.graph.ops.size());
      for (size_t i = 0; i < s.graph.ops.size(); ++i)
        std::printf(";   %s '%s'%s%s\n", s.graph.ops[i].type_name.c_str(), s.graph.ops[i].name.c_str(),
                    i < s.reasons.size() ? " -- " : "", i < s.reasons.size() ? s.reasons[i].c_str() : "");
      continue;
    }
    const auto& seg = l.npu_segments.at(step.index);
    std::printf("\n; NPU segment %u: words %u..%u\n", step.index, seg.first_word, seg.first_word + seg.word_count);
    const compiler::Layer* current = nullptr;
    uint32_t at = seg.first_word;
    const uint32_t end = seg.first_word + seg.word_count;
    while (at < end) {
      const compiler::Layer* ly = layer_at(at);
      if (ly != current && ly) std::printf("; --- %s '%s'\n", ly->op.c_str(), ly->name.c_str());
      current = ly;
      const isa::DecodeResult d = isa::decode(l.commands.data() + at, end - at);
      if (!d.ok) {
        std::printf("%08x: <%s>\n", (at - seg.first_word) * 4, d.error.c_str());
        break;
      }
      std::printf("%08x: %s\n", (at - seg.first_word) * 4, isa::disassemble(d.command).c_str());
      at += d.words;
    }
  }
  return 0;
}

}  // namespace

void add_disasm_command(CLI::App& app, Action& action) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("disasm", "Print a .tsl loadable's commands annotated with layer names");
  cmd->add_option("loadable", *path, "The .tsl file")->required();
  cmd->callback([path, &action] { action = [path] { return disasm(*path); }; });
}

}  // namespace tessel::tools
