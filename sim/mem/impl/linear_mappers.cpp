// Linear address mappers: the burst address is cut into bit fields, in an order given
// from the most significant field to the least (Ramulator's naming: RoBaRaCoCh = row,
// bank, rank, column, channel). Every field count is a power of two (checked at load), so
// the mapping is a bijection on [0, capacity) and higher address bits are ignored.
#include <array>
#include <stdexcept>

#include "builtins.hpp"

namespace tessel::sim::mem::impl {
namespace {

std::uint32_t log2_exact(std::uint64_t v) {
  std::uint32_t b = 0;
  while ((std::uint64_t{1} << b) < v) ++b;
  if ((std::uint64_t{1} << b) != v)
    throw std::invalid_argument("linear mapper: field size is not a power of two");
  return b;
}

class LinearMapper final : public IAddressMapper {
 public:
  LinearMapper(std::string name, const std::vector<AddrField>& msb_to_lsb, const DramOrg& org)
      : name_(std::move(name)) {
    burst_shift_ = log2_exact(org.burst_bytes());
    // Walk from the least significant field up, assigning bit positions.
    std::uint32_t shift = 0;
    for (auto it = msb_to_lsb.rbegin(); it != msb_to_lsb.rend(); ++it) {
      Field f;
      f.which = *it;
      f.shift = shift;
      f.bits = log2_exact(count(*it, org));
      shift += f.bits;
      fields_.push_back(f);
      shift_[static_cast<std::size_t>(f.which)] = f.shift;
      mask_[static_cast<std::size_t>(f.which)] = (std::uint64_t{1} << f.bits) - 1;
    }
  }

  const std::string& name() const override { return name_; }

  DecodedAddress decode(std::uint64_t addr) const override {
    DecodedAddress d;
    decode_to(addr, &d);
    return d;
  }

  void decode_to(std::uint64_t addr, DecodedAddress* out) const override {
    // Straight-line: this runs for every request (can_accept and send).
    const std::uint64_t a = addr >> burst_shift_;
    const auto get = [&](AddrField f) {
      const auto i = static_cast<std::size_t>(f);
      return static_cast<std::uint32_t>((a >> shift_[i]) & mask_[i]);
    };
    out->channel = get(AddrField::Channel);
    out->rank = get(AddrField::Rank);
    out->bankgroup = get(AddrField::BankGroup);
    out->bank = get(AddrField::Bank);
    out->row = get(AddrField::Row);
    out->column = get(AddrField::Column);
  }

  bool column_field(std::uint32_t* shift, std::uint32_t* bits) const override {
    for (const Field& f : fields_) {
      if (f.which != AddrField::Column) continue;
      *shift = f.shift;
      *bits = f.bits;
      return true;
    }
    return false;
  }
  std::uint64_t encode(const DecodedAddress& where) const override {
    DecodedAddress w = where;
    std::uint64_t a = 0;
    for (const Field& f : fields_)
      a |= (std::uint64_t{ref(w, f.which)} & ((std::uint64_t{1} << f.bits) - 1)) << f.shift;
    return a << burst_shift_;
  }

 private:
  struct Field {
    AddrField which = AddrField::Row;
    std::uint32_t shift = 0, bits = 0;
  };

  static std::uint64_t count(AddrField f, const DramOrg& org) {
    switch (f) {
      case AddrField::Channel: return org.channels;
      case AddrField::Rank: return org.ranks;
      case AddrField::BankGroup: return org.bankgroups;
      case AddrField::Bank: return org.banks_per_group;
      case AddrField::Row: return org.rows;
      case AddrField::Column: return org.bursts_per_row();
    }
    return 1;
  }
  static std::uint32_t& ref(DecodedAddress& d, AddrField f) {
    switch (f) {
      case AddrField::Channel: return d.channel;
      case AddrField::Rank: return d.rank;
      case AddrField::BankGroup: return d.bankgroup;
      case AddrField::Bank: return d.bank;
      case AddrField::Row: return d.row;
      case AddrField::Column: return d.column;
    }
    return d.row;
  }

  std::string name_;
  std::uint32_t burst_shift_ = 0;
  std::vector<Field> fields_;  // least significant first
  std::array<std::uint32_t, 6> shift_{};  // indexed by AddrField
  std::array<std::uint64_t, 6> mask_{};
};

}  // namespace

std::unique_ptr<IAddressMapper> make_linear_mapper(const std::string& name,
                                                   const std::vector<AddrField>& msb_to_lsb,
                                                   const DramOrg& org) {
  return std::make_unique<LinearMapper>(name, msb_to_lsb, org);
}

}  // namespace tessel::sim::mem::impl
