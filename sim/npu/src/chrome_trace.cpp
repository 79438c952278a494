#include "tessel/sim/npu/chrome_trace.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "tessel/ir/error.hpp"
#include "tessel_isa_commands.hpp"

namespace tessel::sim::npu {
namespace {

constexpr uint32_t kJobTrack = 5;
constexpr uint32_t kDramTrack = 6;
constexpr uint32_t kLayerTrack = 7;
const char* const kTrackNames[] = {"DMA_IN", "DMA_OUT", "MAC", "VEC", "CP", "jobs", "DRAM", "layers"};

}  // namespace

void ChromeTraceWriter::on_command(const CommandRecord& r) {
  const char* op = isa::opcode_name(r.opcode);
  nlohmann::json e = {{"name", namer_ ? namer_(r.job_id, r.offset) : std::string(op ? op : "?")},
                      {"cat", op ? op : "?"},
                      {"ph", "X"},
                      {"pid", 1},
                      {"tid", r.engine},
                      {"ts", us(r.start_cycle)},
                      {"dur", us(r.end_cycle - r.start_cycle)},
                      {"args",
                       {{"job", r.job_id},
                        {"offset", r.offset},
                        {"cycles", r.end_cycle - r.start_cycle},
                        {"macs", r.macs},
                        {"dram_bytes", r.dram_bytes}}}};
  events_.push_back(e.dump());
}

void ChromeTraceWriter::on_job(uint32_t job_id, uint64_t start_cycle, uint64_t end_cycle) {
  nlohmann::json e = {{"name", "job " + std::to_string(job_id)},
                      {"ph", "X"},
                      {"pid", 1},
                      {"tid", kJobTrack},
                      {"ts", us(start_cycle)},
                      {"dur", us(end_cycle - start_cycle)},
                      {"args", {{"cycles", end_cycle - start_cycle}}}};
  events_.push_back(e.dump());
}

void ChromeTraceWriter::on_dram_window(uint64_t start_cycle, uint64_t end_cycle,
                                       uint64_t read_bytes, uint64_t write_bytes) {
  // bytes per cycle * cycles per second = bytes/s; GB/s = bytes / (cycles / MHz * 1e-6) / 1e9
  const double seconds = static_cast<double>(end_cycle - start_cycle) / clock_mhz_ * 1e-6;
  nlohmann::json e = {{"name", "DRAM bandwidth (GB/s)"},
                      {"ph", "C"},
                      {"pid", 1},
                      {"tid", kDramTrack},
                      {"ts", us(start_cycle)},
                      {"args",
                       {{"read", static_cast<double>(read_bytes) / seconds / 1e9},
                        {"write", static_cast<double>(write_bytes) / seconds / 1e9}}}};
  events_.push_back(e.dump());
  nlohmann::json zero = e;  // drop to zero after the window unless the next one follows
  zero["ts"] = us(end_cycle);
  zero["args"] = {{"read", 0.0}, {"write", 0.0}};
  events_.push_back(zero.dump());
}

void ChromeTraceWriter::add_layer(const std::string& name, const std::string& op,
                                  uint64_t start_cycle, uint64_t end_cycle, uint64_t macs,
                                  uint64_t dram_bytes) {
  const uint64_t id = next_layer_id_++;
  nlohmann::json b = {{"name", name},
                      {"cat", "layer"},
                      {"ph", "b"},
                      {"id", id},
                      {"pid", 1},
                      {"tid", kLayerTrack},
                      {"ts", us(start_cycle)},
                      {"args",
                       {{"op", op},
                        {"cycles", end_cycle - start_cycle},
                        {"macs", macs},
                        {"dram_bytes", dram_bytes}}}};
  events_.push_back(b.dump());
  nlohmann::json e = {{"name", name}, {"cat", "layer"}, {"ph", "e"}, {"id", id},
                      {"pid", 1},     {"tid", kLayerTrack}, {"ts", us(end_cycle)}};
  events_.push_back(e.dump());
}

std::string ChromeTraceWriter::json() const {
  std::string out = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  out += R"({"name":"process_name","ph":"M","pid":1,"args":{"name":"Tessel NPU"}})";
  for (uint32_t t = 0; t < 8; ++t) {
    out += ",\n";
    out += nlohmann::json({{"name", "thread_name"},
                           {"ph", "M"},
                           {"pid", 1},
                           {"tid", t},
                           {"args", {{"name", kTrackNames[t]}}}})
               .dump();
  }
  for (const std::string& e : events_) {
    out += ",\n";
    out += e;
  }
  out += "\n]}\n";
  return out;
}

void ChromeTraceWriter::write(const std::string& path) const {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw Error("cannot write the trace file " + path);
  const std::string text = json();
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!f) throw Error("error writing the trace file " + path);
}

}  // namespace tessel::sim::npu
