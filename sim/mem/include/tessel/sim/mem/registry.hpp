#pragma once
// The built-in policies by name. One explicit list (src/registry.cpp), no static
// self-registration: grep for a name finds its implementation.

#include <memory>
#include <string>
#include <vector>

#include "tessel/sim/mem/dram_config.hpp"
#include "tessel/sim/mem/i_address_mapper.hpp"
#include "tessel/sim/mem/i_refresh.hpp"
#include "tessel/sim/mem/i_row_policy.hpp"
#include "tessel/sim/mem/i_scheduler.hpp"

namespace tessel::sim::mem {

std::vector<std::string> scheduler_names();
std::vector<std::string> row_policy_names();
std::vector<std::string> address_mapping_names();
std::vector<std::string> refresh_names();

// Each returns nullptr for an unknown name (configs are validated at load time, which
// reports unknown names with the file and key).
std::unique_ptr<IScheduler> make_scheduler(const std::string& name);
std::unique_ptr<IRowPolicy> make_row_policy(const std::string& name);
std::unique_ptr<IAddressMapper> make_address_mapper(const std::string& name,
                                                    const DramOrg& org);
std::unique_ptr<IRefresh> make_refresh(const std::string& name);

}  // namespace tessel::sim::mem
