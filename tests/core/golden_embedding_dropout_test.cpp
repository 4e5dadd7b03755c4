// Golden tests against PyTorch for ops/embedding.cpp and ops/dropout.cpp. Dropout's random mask cannot match
// PyTorch's generator, so only its deterministic cases are golden (evaluation mode, and p = 0 in training).
// Cases mirror tools/golden/core_golden_cases.py.
#include "golden_util.h"

using namespace cairn;
using golden::Call;
using golden::outs;

TEST(GoldenEmbedding, Embedding) {
  auto em = [](int64_t padding_idx) { return [padding_idx](Call& c) { return outs(embedding(c["w"], c["i"], padding_idx)); }; };
  golden::run("embedding", {{"2d_repeats", em(-1)}, {"padding_idx", em(2)}, {"int32", em(-1)}, {"scalar_index", em(-1)}});
}

TEST(GoldenDropout, DeterministicCases) {
  golden::run("dropout", {{"eval", [](Call& c) { return outs(dropout(c["x"], 0.5, false)); }},
                          {"p0_train", [](Call& c) { return outs(dropout(c["x"], 0.0, true)); }}});
}
