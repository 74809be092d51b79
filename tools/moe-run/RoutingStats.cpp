//===- RoutingStats.cpp - moe-run --stats ---------------------------------===//

#include "RoutingStats.h"

#include "ElementValues.h"

#include <algorithm>
#include <iomanip>

using namespace moe;

namespace {
// Values of a statistic beyond this many are summarised by their total.
constexpr int64_t kMaxListedValues = 16;

void printLoadTable(const HostTensor &load, std::ostream &os) {
  int64_t experts = load.rank() ? load.shape().back() : 1;
  int64_t groups = experts ? load.numElements() / experts : 0;
  std::vector<double> perExpert(experts, 0.0);
  for (int64_t i = 0; i < load.numElements(); ++i)
    perExpert[i % experts] += elementAt(load, i);
  double total = 0, largest = 0;
  for (double value : perExpert) {
    total += value;
    largest = std::max(largest, value);
  }

  os << "  expert_load (" << load.typeString();
  if (groups > 1)
    os << ", summed over " << groups << " groups";
  os << "):\n";
  size_t width = 4;
  for (double value : perExpert)
    width = std::max(width, formatNumber(value).size());
  os << "    expert  " << std::setw(static_cast<int>(width)) << "load"
     << "   share\n";
  for (int64_t e = 0; e < experts; ++e) {
    os << "    " << std::setw(6) << e << "  "
       << std::setw(static_cast<int>(width)) << formatNumber(perExpert[e]);
    if (total > 0)
      os << "  " << std::setw(5) << std::fixed << std::setprecision(1)
         << 100 * perExpert[e] / total << std::defaultfloat
         << std::setprecision(6) << "%";
    os << "\n";
  }
  if (experts == 0)
    return;
  double mean = total / static_cast<double>(experts);
  os << "    total " << formatNumber(total) << ", mean " << formatNumber(mean);
  // max/mean is the usual load-imbalance figure: 1 is perfectly balanced.
  if (mean > 0)
    os << ", max/mean " << formatNumber(largest / mean);
  os << "\n";
}

void printValues(const std::string &name, const HostTensor &tensor,
                 std::ostream &os) {
  os << "  " << name << ": ";
  if (tensor.numElements() == 1) {
    os << formatNumber(elementAt(tensor, 0)) << "\n";
    return;
  }
  double total = 0;
  for (int64_t i = 0; i < tensor.numElements(); ++i)
    total += elementAt(tensor, i);
  if (tensor.numElements() <= kMaxListedValues) {
    os << "[";
    for (int64_t i = 0; i < tensor.numElements(); ++i)
      os << (i ? ", " : "") << formatNumber(elementAt(tensor, i));
    os << "] ";
  }
  os << "(" << tensor.typeString() << ", total " << formatNumber(total)
     << ")\n";
}
} // namespace

void moe::printRoutingStats(const Model &model, std::ostream &os) {
  static const char *const kScalars[] = {"dropped_tokens",
                                         "dropped_assignments",
                                         "importance_loss", "invalid_tokens"};
  const HostTensor *load = model.findResult("expert_load");
  bool any = load != nullptr;
  for (const char *name : kScalars)
    any |= model.findResult(name) != nullptr;
  if (!any) {
    os << "routing statistics: none (the model has no result named "
          "expert_load, dropped_tokens, dropped_assignments, "
          "importance_loss or invalid_tokens)\n";
    return;
  }
  os << "routing statistics:\n";
  if (load)
    printLoadTable(*load, os);
  for (const char *name : kScalars)
    if (const HostTensor *tensor = model.findResult(name))
      printValues(name, *tensor, os);
}
