// Golden tests against PyTorch for ops/indexing.cpp: index_select, gather and scatter_add (repeated indices,
// negative dims, int32 indices). where and masked_fill are in golden_test.cpp. Cases mirror
// tools/golden/core_golden_cases.py.
#include "golden_util.h"

using namespace cairn;
using golden::Call;
using golden::outs;

TEST(GoldenIndexing, IndexSelect) {
  auto is = [](int64_t d) { return [d](Call& c) { return outs(index_select(c["x"], d, c["i"])); }; };
  golden::run("index_select", {{"dim0_repeats", is(0)}, {"dim1", is(1)}, {"dim_last_3d", is(-1)}, {"int32", is(0)}});
}

TEST(GoldenIndexing, Gather) {
  auto ga = [](int64_t d) { return [d](Call& c) { return outs(gather(c["x"], d, c["i"])); }; };
  golden::run("gather", {{"dim1", ga(1)}, {"dim0_repeats", ga(0)}, {"3d_dim_last", ga(-1)}, {"index_smaller", ga(1)}});
}

TEST(GoldenIndexing, ScatterAdd) {
  auto sa = [](int64_t d) { return [d](Call& c) { return outs(scatter_add(c["x"], d, c["i"], c["src"])); }; };
  golden::run("scatter_add", {{"dim1_repeats", sa(1)}, {"dim0", sa(0)}});
}
