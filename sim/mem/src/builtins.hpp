#pragma once
// Factories of the built-in policies (private to the library; registry.cpp lists them).

#include <memory>
#include <string>
#include <vector>

#include "tessel/sim/mem/dram_config.hpp"
#include "tessel/sim/mem/i_address_mapper.hpp"
#include "tessel/sim/mem/i_refresh.hpp"
#include "tessel/sim/mem/i_row_policy.hpp"
#include "tessel/sim/mem/i_scheduler.hpp"

namespace tessel::sim::mem::impl {

std::unique_ptr<IScheduler> make_frfcfs();
std::unique_ptr<IScheduler> make_fcfs();

std::unique_ptr<IRowPolicy> make_open_page();
std::unique_ptr<IRowPolicy> make_closed_page();

std::unique_ptr<IRefresh> make_all_bank_refresh();
std::unique_ptr<IRefresh> make_no_refresh();

// Address fields, for the linear (bit-slicing) mappers.
enum class AddrField { Channel, Rank, BankGroup, Bank, Row, Column };
// `msb_to_lsb` lists the fields from the most to the least significant address bits.
std::unique_ptr<IAddressMapper> make_linear_mapper(const std::string& name,
                                                   const std::vector<AddrField>& msb_to_lsb,
                                                   const DramOrg& org);

}  // namespace tessel::sim::mem::impl
