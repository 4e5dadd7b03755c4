#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "cairn/cli/cli.h"
#include "cairn/cli/commands.h"
#include "cairn/cli/config.h"
#include "cairn/cli/data_cmds.h"
#include "cairn/core/kernels/precision.h"
#include "cairn/core/kernels/threading.h"
#include "cairn/train/model.h"

namespace cairn::cli {

bool threads_set_by_flag = false;

void apply_run_settings(const Config& cfg) {
  if (cfg.has("threads") && !threads_set_by_flag) set_num_threads(cfg.get<int>("threads", 2));
  if (!cfg.has("matmul_precision")) return;
  try {
    set_float32_matmul_precision(cfg.get<std::string>("matmul_precision", "highest"));
  } catch (const ValueError& e) {
    cfg.fail(e.what(), "matmul_precision");
  }
  if (float32_matmul_precision() == MatmulPrecision::medium && !bf16_matmul_available())
    std::fprintf(stderr, "note: matmul_precision medium: this CPU has no bfloat16 matmul kernels, products stay float32\n");
}

namespace {

const char* kUsage =
    "usage: cairn <command> [options]\n"
    "\n"
    "commands:\n"
    "  train CONFIG.yaml [--set key=value ...]   train a model from a YAML config (e.g. --set fit.epochs=2)\n"
    "  evaluate MODEL [CONFIG.yaml]               loss, metrics table and confusion matrix on a test set\n"
    "                                             (a language model: loss and perplexity on its validation split)\n"
    "  predict MODEL INPUT [--top K] [--limit N]  class predictions for an IDX file, PNG/JPEG, CSV or text\n"
    "                                             (a BERT classifier: one sentence per line; a language\n"
    "                                             model: the likeliest next tokens of each prompt line)\n"
    "  summary MODEL|CONFIG.yaml                  the layer table with output shapes and parameter counts\n"
    "  info                                       threads and registered kernels\n"
    "  data inspect|split|shard ...               look at a data file; split it; tokenize text into shards\n"
    "  generate MODEL --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S]\n"
    "                                             sample text from a language model (docs/language_models.md)\n"
    "\n"
    "options for every command:\n"
    "  --threads N    threads for every kernel (default: OMP_NUM_THREADS, else all cores)\n"
    "  --help         this text\n";

}  // namespace

int run(const std::vector<std::string>& all) {
  std::vector<std::string> args;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] == "--threads" || all[i].rfind("--threads=", 0) == 0) {
      std::string v = all[i] == "--threads" ? (i + 1 < all.size() ? all[++i] : "") : all[i].substr(10);
      int n = std::atoi(v.c_str());
      if (n <= 0) {
        std::fprintf(stderr, "cairn: --threads needs a positive number, got '%s'\n", v.c_str());
        return 2;
      }
      set_num_threads(n);
      threads_set_by_flag = true;
    } else if (all[i] == "--help" || all[i] == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      args.push_back(all[i]);
    }
  }
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "train") return cmd_train(args);
    if (cmd == "evaluate") return cmd_evaluate(args);
    if (cmd == "predict") return cmd_predict(args);
    if (cmd == "summary") return cmd_summary(args);
    if (cmd == "info") return cmd_info(args);
    if (cmd == "data") return cmd_data(args);
    if (cmd == "generate") return cmd_generate(args);
    std::fprintf(stderr, "cairn: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
    return 2;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "cairn %s: %s\n", cmd.c_str(), e.what());
    return 2;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "cairn %s: config error: %s\n", cmd.c_str(), e.what());
    return 2;
  } catch (const train::NonFiniteLossError& e) {
    std::fprintf(stderr, "cairn %s: %s\n", cmd.c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cairn %s: error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return run(args);
}

}  // namespace cairn::cli
