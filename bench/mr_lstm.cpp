// Sentiment classification on the MR movie-review sentences (rt-polarity, Pang & Lee 2005) with an LSTM:
// Embedding(10000, 32) -> LSTM(128) -> Dense(1, sigmoid), binary cross-entropy, Adam 1e-3, batch 32.
// Data: a fixed seeded 90/10 split of the 10,662 sentences; a word vocabulary of the 9,998 most frequent
// lower-cased whitespace-separated words of the training split (+ 0 = padding, 1 = out of vocabulary: 10,000
// ids); sequences padded and truncated at the front to `maxlen` (Keras's pad_sequences defaults), so the LSTM's
// final state follows the last real word. Prints per-epoch loss and the test accuracy.
// Usage: mr_lstm [DATA_DIR=/work/shared/data] [epochs=3] [threads=2] [maxlen=56]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <unordered_map>

#include "cairn/core/core.h"
#include "cairn/data/text.h"
#include "cairn/nn/nn.h"
#include "cairn/optim/factory.h"
#include "cairn/train/model.h"

using namespace cairn;

namespace {

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string w;
  while (in >> w) {
    std::transform(w.begin(), w.end(), w.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.push_back(w);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/work/shared/data";
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 3;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const int64_t maxlen = argc > 4 ? std::atoll(argv[4]) : 56;
  const int64_t vocab_size = 10000;
  set_num_threads(threads);
  manual_seed(1);

  auto ds = data::load_text_per_label({{"neg", dir + "/rt-polarity.neg"}, {"pos", dir + "/rt-polarity.pos"}});
  data::convert_latin1_to_utf8(ds);
  const int64_t n = static_cast<int64_t>(ds.size());
  Generator split_gen(20240601);
  std::vector<int64_t> order = randperm(n, &split_gen).to_vector<int64_t>();
  const int64_t n_train = n * 9 / 10;

  // Vocabulary from the training split only: most frequent first, ties by the word's bytes.
  std::unordered_map<std::string, int64_t> counts;
  for (int64_t i = 0; i < n_train; ++i)
    for (auto& w : words_of(ds.texts[order[i]])) ++counts[w];
  std::vector<std::pair<std::string, int64_t>> by_count(counts.begin(), counts.end());
  std::sort(by_count.begin(), by_count.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  std::unordered_map<std::string, int64_t> ids;
  for (size_t i = 0; i < by_count.size() && static_cast<int64_t>(i) < vocab_size - 2; ++i)
    ids[by_count[i].first] = static_cast<int64_t>(i) + 2;

  auto encode = [&](int64_t begin, int64_t end, Tensor& x, Tensor& y) {
    const int64_t m = end - begin;
    std::vector<int64_t> xv(static_cast<size_t>(m * maxlen), 0);
    std::vector<float> yv(static_cast<size_t>(m));
    for (int64_t r = 0; r < m; ++r) {
      const int64_t e = order[begin + r];
      auto ws = words_of(ds.texts[e]);
      const int64_t L = static_cast<int64_t>(ws.size()), keep = std::min(L, maxlen);
      for (int64_t k = 0; k < keep; ++k) {  // the last `keep` words, right-aligned
        auto it = ids.find(ws[L - keep + k]);
        xv[r * maxlen + (maxlen - keep) + k] = it == ids.end() ? 1 : it->second;
      }
      yv[r] = static_cast<float>(ds.labels[e]);
    }
    x = from_vector(xv, {m, maxlen});
    y = from_vector(yv, {m, 1});
  };
  Tensor x_train, y_train, x_test, y_test;
  encode(0, n_train, x_train, y_train);
  encode(n_train, n, x_test, y_test);
  std::printf("MR: %lld train, %lld test sentences, %zu distinct training words, maxlen %lld\n",
              static_cast<long long>(n_train), static_cast<long long>(n - n_train), counts.size(),
              static_cast<long long>(maxlen));

  auto net = std::make_shared<nn::Sequential>();
  net->add<nn::Embedding>(vocab_size, 32);
  net->add<nn::LSTM>(128);
  net->add<nn::Dense>(1, "sigmoid");
  net->build({-1, maxlen});
  train::Model model(net);
  model.compile(optim::make_optimizer("adam", net->trainable_parameters(), {{"lr", 1e-3}}),
                nn::make_loss("binary_crossentropy"));
  for (int ep = 0; ep < epochs; ++ep) {
    train::FitOptions fo;
    fo.epochs = 1;
    fo.batch_size = 32;
    fo.verbose = 0;
    fo.seed = static_cast<uint64_t>(ep) + 1;
    auto t0 = std::chrono::steady_clock::now();
    auto h = model.fit(x_train, y_train, fo);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto logs = model.evaluate(x_test, y_test);
    // Accuracy from the predictions (probabilities, threshold 0.5).
    const double acc = mean(eq(gt(model.predict(x_test), 0.5), gt(y_test, 0.5)).to(DType::f64)).item();
    std::printf("epoch %d: %.1fs  loss=%.4f  test_loss=%.4f test_accuracy=%.4f\n", ep + 1, dt,
                h.history.at("loss").back(), *train::log_value(logs, "loss"), acc);
    std::fflush(stdout);
  }
  return 0;
}
