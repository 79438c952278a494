// The one list of built-in policies. To add one: write impl/<name>.cpp with a factory
// declared in builtins.hpp, and add a line to the matching table below.
#include "tessel/sim/mem/registry.hpp"

#include "builtins.hpp"

namespace tessel::sim::mem {

namespace {

using impl::AddrField;

struct SchedulerEntry {
  const char* name;
  std::unique_ptr<IScheduler> (*make)();
};
const SchedulerEntry kSchedulers[] = {
    {"fcfs", impl::make_fcfs},
    {"frfcfs", impl::make_frfcfs},
};

struct RowPolicyEntry {
  const char* name;
  std::unique_ptr<IRowPolicy> (*make)();
};
const RowPolicyEntry kRowPolicies[] = {
    {"closed", impl::make_closed_page},
    {"open", impl::make_open_page},
};

struct RefreshEntry {
  const char* name;
  std::unique_ptr<IRefresh> (*make)();
};
const RefreshEntry kRefresh[] = {
    {"all_bank", impl::make_all_bank_refresh},
    {"none", impl::make_no_refresh},
};

// Field orders, most significant first. "Ba" without "Bg" means bank group and bank
// together (bank group above bank).
struct MappingEntry {
  const char* name;
  std::vector<AddrField> msb_to_lsb;
};
const MappingEntry kMappings[] = {
    // Consecutive bursts fill a row of one bank, then the next rank, then the next bank:
    // long row-hit runs, one bank busy at a time.
    {"RoBaRaCoCh", {AddrField::Row, AddrField::BankGroup, AddrField::Bank, AddrField::Rank,
                    AddrField::Column, AddrField::Channel}},
    // Like RoBaRaCoCh with rank above bank (DRAMSim3's rochrababgco family, ranks split).
    {"RoRaBaCoCh", {AddrField::Row, AddrField::Rank, AddrField::BankGroup, AddrField::Bank,
                    AddrField::Column, AddrField::Channel}},
    // Bank-group interleaved: consecutive bursts rotate channel, rank, bank group, bank
    // before the column moves, so a stream alternates bank groups (tCCD_S, not tCCD_L)
    // and keeps every bank's row open for many hits.
    {"RoCoBaBgRaCh", {AddrField::Row, AddrField::Column, AddrField::Bank, AddrField::BankGroup,
                      AddrField::Rank, AddrField::Channel}},
    // Bank-group interleaved, bank above column: a stream alternates bank groups burst by
    // burst but stays in one bank per group for a whole row, so rows change one bank
    // group at a time and the next bank's ACT is issued while the current rows stream
    // (no burst of ACTs against tFAW every time the column wraps).
    {"RoBaCoBgRaCh", {AddrField::Row, AddrField::Bank, AddrField::Column, AddrField::BankGroup,
                      AddrField::Rank, AddrField::Channel}},
};

}  // namespace

std::vector<std::string> scheduler_names() {
  std::vector<std::string> v;
  for (const auto& e : kSchedulers) v.emplace_back(e.name);
  return v;
}
std::vector<std::string> row_policy_names() {
  std::vector<std::string> v;
  for (const auto& e : kRowPolicies) v.emplace_back(e.name);
  return v;
}
std::vector<std::string> address_mapping_names() {
  std::vector<std::string> v;
  for (const auto& e : kMappings) v.emplace_back(e.name);
  return v;
}
std::vector<std::string> refresh_names() {
  std::vector<std::string> v;
  for (const auto& e : kRefresh) v.emplace_back(e.name);
  return v;
}

std::unique_ptr<IScheduler> make_scheduler(const std::string& name) {
  for (const auto& e : kSchedulers)
    if (name == e.name) return e.make();
  return nullptr;
}
std::unique_ptr<IRowPolicy> make_row_policy(const std::string& name) {
  for (const auto& e : kRowPolicies)
    if (name == e.name) return e.make();
  return nullptr;
}
std::unique_ptr<IAddressMapper> make_address_mapper(const std::string& name,
                                                    const DramOrg& org) {
  for (const auto& e : kMappings)
    if (name == e.name) return impl::make_linear_mapper(e.name, e.msb_to_lsb, org);
  return nullptr;
}
std::unique_ptr<IRefresh> make_refresh(const std::string& name) {
  for (const auto& e : kRefresh)
    if (name == e.name) return e.make();
  return nullptr;
}

}  // namespace tessel::sim::mem
