#include "tessel/sim/mem/dram_device.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace tessel::sim::mem {

namespace {
std::uint64_t non_negative(std::int64_t v) { return v < 0 ? 0 : static_cast<std::uint64_t>(v); }
}  // namespace

DramDevice::DramDevice(const DramConfig& config)
    : t_(config.timing),
      bankgroups_(config.org.bankgroups),
      banks_per_group_(config.org.banks_per_group),
      banks_per_rank_(config.org.banks_per_rank()) {
  const auto& t = t_;
  const auto i = [](std::uint32_t v) { return static_cast<std::int64_t>(v); };
  rd_to_wr_ = non_negative(i(t.tCL) + i(t.tBL) + i(t.tRTRS) - i(t.tCWL));
  wr_to_rd_other_ = non_negative(i(t.tCWL) + i(t.tBL) + i(t.tRTRS) - i(t.tCL));
  wr_to_rd_s_ = std::uint64_t{t.tCWL} + t.tBL + t.tWTR_S;
  wr_to_rd_l_ = std::uint64_t{t.tCWL} + t.tBL + t.tWTR_L;
  wr_to_pre_ = std::uint64_t{t.tCWL} + t.tBL + t.tWR;
  rank_switch_ = std::uint64_t{t.tBL} + t.tRTRS;
  column_gap_ = std::max<std::uint64_t>({t.tBL, t.tCCD_S, t.tCCD_L});

  banks_.resize(config.org.banks_per_channel());
  for (std::uint32_t k = 0; k < banks_.size(); ++k) {
    banks_[k].group = k / banks_per_group_;
    banks_[k].rank = k / banks_per_rank_;
  }
  groups_.resize(std::size_t{config.org.ranks} * bankgroups_);
  group_rank_.resize(groups_.size());
  for (std::uint32_t g = 0; g < groups_.size(); ++g) group_rank_[g] = g / bankgroups_;
  ranks_.resize(config.org.ranks);
}

BankState DramDevice::bank_state(std::uint32_t flat, std::uint64_t now) const {
  if (banks_[flat].open) return BankState::Opened;
  if (now < ranks_[rank_of(flat)].refresh_until) return BankState::Refreshing;
  return BankState::Closed;
}

std::uint64_t DramDevice::earliest_rank_command(Command cmd, std::uint32_t flat) const {
  switch (cmd) {
    case Command::PREA: {
      // PREA must respect each open bank's own precharge constraints (tRAS, tRTP, tWR).
      std::uint64_t e = command_bus_;
      const std::uint32_t first = rank_of(flat) * banks_per_rank_;
      for (std::uint32_t k = first; k < first + banks_per_rank_; ++k)
        if (banks_[k].open) e = std::max(e, banks_[k].next[kPre]);
      return e;
    }
    case Command::REF:
      return std::max(ranks_[rank_of(flat)].next[kRef], command_bus_);
    default:  // the request commands: earliest() answers those inline
      return kNever;
  }
}

void DramDevice::refuse(Command cmd, std::uint32_t flat, std::uint32_t row,
                        std::uint64_t cycle) const {
  std::ostringstream os;
  os << "DramDevice: illegal " << command_name(cmd) << " to bank " << flat << " row " << row
     << " at cycle " << cycle;
  if (!state_allows(cmd, flat, row))
    os << " (bank state does not allow it)";
  else
    os << " (earliest legal cycle " << earliest(cmd, flat) << ")";
  throw std::logic_error(os.str());
}

void DramDevice::close_bank(std::uint32_t flat, std::uint64_t act_ready) {
  Bank& b = banks_[flat];
  if (b.open) --ranks_[rank_of(flat)].open_banks;
  b.open = false;
  raise(b.next[kAct], act_ready);
}

void DramDevice::issue_train_column(Command cmd, std::uint32_t flat, std::uint32_t row,
                                    std::uint64_t t) {
  if (!is_column(cmd) || !state_allows(cmd, flat, row) ||
      t < earliest_train_column(is_write(cmd), flat)) {
    std::ostringstream os;
    os << "DramDevice: illegal train " << command_name(cmd) << " to bank " << flat << " row "
       << row << " at cycle " << t << " (earliest " << earliest_train_column(is_write(cmd), flat)
       << ")";
    throw std::logic_error(os.str());
  }
  apply(cmd, flat, row, t);
}

std::uint64_t DramDevice::issue_train_rest(Command cmd, Command last_cmd, std::uint32_t flat,
                                           std::uint32_t row, std::uint64_t first,
                                           std::uint32_t count) {
  if (count == 0) return first;
  const std::uint64_t second = first + column_gap_;
  // The second command is checked in full; the argument above carries it to the others.
  if (second != earliest_train_column(is_write(cmd), flat))
    throw std::logic_error("DramDevice: a train's second column command is not at first + column gap");
  const std::uint64_t last = first + column_gap_ * count;
  issue_train_column(last_cmd, flat, row, last);
  return last;
}

// The rules. Each line: preceding command -> following command at some level, distance.
void DramDevice::apply(Command cmd, std::uint32_t flat, std::uint32_t row, std::uint64_t t) {
  Bank& b = banks_[flat];
  const std::uint32_t rank = b.rank;
  Next& g = groups_[b.group];
  Rank& r = ranks_[rank];

  switch (cmd) {
    case Command::ACT: {
      b.open = true;
      b.row = row;
      ++r.open_banks;
      raise(b.next[kRd], t + t_.tRCD);       // ACT -> RD   same bank   tRCD
      raise(b.next[kWr], t + t_.tRCD_WR);    // ACT -> WR   same bank   tRCD (tRCDWR)
      raise(b.next[kPre], t + t_.tRAS);      // ACT -> PRE  same bank   tRAS
      raise(b.next[kAct], t + t_.tRC);       // ACT -> ACT  same bank   tRC
      raise(g[kAct], t + t_.tRRD_L);         // ACT -> ACT  same group  tRRD_L
      raise(r.next[kAct], t + t_.tRRD_S);    // ACT -> ACT  same rank   tRRD_S
      // Four-activate window: the fifth ACT waits for the oldest of the last four + tFAW.
      r.act_window[r.act_pos] = t;
      r.act_pos = (r.act_pos + 1) % 4;
      if (++r.act_count >= 4) raise(r.next[kAct], r.act_window[r.act_pos] + t_.tFAW);
      break;
    }
    case Command::PRE:
      close_bank(flat, t + t_.tRP);          // PRE -> ACT  same bank   tRP
      raise(r.next[kRef], t + t_.tRP);       // PRE -> REF  same rank   tRP
      break;
    case Command::PREA: {
      const std::uint32_t first = rank * banks_per_rank_;
      for (std::uint32_t k = first; k < first + banks_per_rank_; ++k)
        if (banks_[k].open) close_bank(k, t + t_.tRP_ab);  // PREA -> ACT  tRPab
      raise(r.next[kAct], t + t_.tRP_ab);
      raise(r.next[kRef], t + t_.tRP_ab);    // PREA -> REF  same rank  tRPab
      break;
    }
    case Command::RD:
    case Command::RDA: {
      raise(channel_[kRd], t + t_.tBL);      // data bus occupied for the burst
      raise(channel_[kWr], t + rd_to_wr_);   // RD -> WR  bus turnaround
      raise(r.next[kRd], t + t_.tCCD_S);     // RD -> RD  same rank     tCCD_S
      raise(g[kRd], t + t_.tCCD_L);          // RD -> RD  same group    tCCD_L
      for (std::uint32_t k = 0; k < ranks_.size(); ++k)
        if (k != rank) raise(ranks_[k].next[kRd], t + rank_switch_);  // tBL + tRTRS
      raise(b.next[kPre], t + t_.tRTP);      // RD -> PRE  same bank    tRTP
      if (cmd == Command::RDA) {
        // Auto-precharge starts when a PRE could have issued (tRTP and tRAS met).
        const std::uint64_t pre = b.next[kPre];
        close_bank(flat, pre + t_.tRP);
        raise(r.next[kRef], pre + t_.tRP);
      }
      break;
    }
    case Command::WR:
    case Command::WRA: {
      raise(channel_[kWr], t + t_.tBL);           // data bus occupied for the burst
      raise(channel_[kRd], t + wr_to_rd_other_);  // WR -> RD  other rank turnaround
      raise(r.next[kWr], t + t_.tCCD_S);          // WR -> WR  same rank   tCCD_S
      raise(g[kWr], t + t_.tCCD_L);               // WR -> WR  same group  tCCD_L
      raise(r.next[kRd], t + wr_to_rd_s_);        // WR -> RD  same rank   tCWL+tBL+tWTR_S
      raise(g[kRd], t + wr_to_rd_l_);             // WR -> RD  same group  tCWL+tBL+tWTR_L
      for (std::uint32_t k = 0; k < ranks_.size(); ++k)
        if (k != rank) raise(ranks_[k].next[kWr], t + rank_switch_);
      raise(b.next[kPre], t + wr_to_pre_);        // WR -> PRE same bank   tCWL+tBL+tWR
      if (cmd == Command::WRA) {
        const std::uint64_t pre = b.next[kPre];
        close_bank(flat, pre + t_.tRP);
        raise(r.next[kRef], pre + t_.tRP);
      }
      break;
    }
    case Command::REF:
      raise(r.next[kAct], t + t_.tRFC);      // REF -> ACT  same rank  tRFC
      raise(r.next[kRef], t + t_.tRFC);      // REF -> REF  same rank  tRFC
      r.refresh_until = t + t_.tRFC;
      break;
  }
}

}  // namespace tessel::sim::mem
