#include "cairn/cli/lm_model.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "cairn/data/error.h"
#include "cairn/io/atomic_file.h"
#include "cairn/io/safetensors.h"
#include "cairn/nn/weights_io.h"
#include "cairn/text/bpe_tokenizer.h"
#include "cairn/text/char_tokenizer.h"

namespace cairn::cli {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// A private temporary file name (the text layer reads and writes tokenizers as files only).
std::string temp_json_path() {
  static std::atomic<uint64_t> counter{0};
  return (fs::temp_directory_path() /
          ("cairn_tokenizer_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".json"))
      .string();
}

struct RemoveOnExit {
  std::string path;
  ~RemoveOnExit() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool is_lm_config(const Config& cfg) {
  Config data = cfg.section("data"), model = cfg.section("model");
  return (data.has("dataset") && data.get<std::string>("dataset", "") == "text_lm") ||
         (model.has("type") && model.get<std::string>("type", "") == "gpt");
}

nn::GPTConfig gpt_config_from(const Config& m) {
  m.check_keys({"type", "layers", "heads", "width", "context", "mlp_width", "dropout", "attention_dropout", "bias",
                "tie_weights", "init", "gelu", "layer_norm_eps", "vocab_size", "seed"});
  const std::string type = m.get<std::string>("type", "gpt");
  if (type != "gpt") m.fail("type '" + type + "' is not a language model; the only one is 'gpt'", "type");
  nn::GPTConfig c;
  c.vocab_size = m.get<int64_t>("vocab_size", 0);
  c.num_layers = m.get<int64_t>("layers", 4);
  c.num_heads = m.get<int64_t>("heads", 4);
  c.embed_dim = m.get<int64_t>("width", 128);
  c.context_length = m.get<int64_t>("context", 0);
  c.mlp_dim = m.get<int64_t>("mlp_width", -1);
  c.dropout = m.get<double>("dropout", 0.0);
  c.attention_dropout = m.get<double>("attention_dropout", 0.0);
  c.bias = m.get<bool>("bias", true);
  c.tie_weights = m.get<bool>("tie_weights", false);
  c.init = m.get<std::string>("init", "gpt2");
  c.gelu_approximate = m.get<std::string>("gelu", "none");
  c.layer_norm_eps = m.get<double>("layer_norm_eps", 1e-5);
  if (m.has("seed")) c.seed = m.get<uint64_t>("seed", 0);
  if (c.num_layers < 1) m.fail("layers must be >= 1", "layers");
  if (c.num_heads < 1 || c.embed_dim < 1 || c.embed_dim % c.num_heads != 0)
    m.fail(detail::cat("width (", c.embed_dim, ") must be a positive multiple of heads (", c.num_heads, ")"), "width");
  if (!(c.dropout >= 0 && c.dropout < 1)) m.fail("dropout must be in [0, 1)", "dropout");
  if (!(c.attention_dropout >= 0 && c.attention_dropout < 1))
    m.fail("attention_dropout must be in [0, 1)", "attention_dropout");
  if (c.init != "gpt2" && c.init != "torch_default") m.fail("init must be gpt2 or torch_default, got '" + c.init + "'", "init");
  if (c.gelu_approximate != "none" && c.gelu_approximate != "tanh")
    m.fail("gelu must be none or tanh, got '" + c.gelu_approximate + "'", "gelu");
  return c;
}

json gpt_config_json(const nn::GPTConfig& c) {
  return {{"type", "gpt"},          {"vocab_size", c.vocab_size},   {"context", c.context_length},
          {"layers", c.num_layers}, {"heads", c.num_heads},         {"width", c.embed_dim},
          {"mlp_width", c.mlp_dim}, {"dropout", c.dropout},         {"bias", c.bias},
          {"tie_weights", c.tie_weights}, {"init", c.init},         {"gelu", c.gelu_approximate},
          {"layer_norm_eps", c.layer_norm_eps}, {"attention_dropout", c.attention_dropout}};
}

nn::GPTConfig gpt_config_from_json(const json& j, const std::string& source) {
  try {
    CAIRN_CHECK(j.at("type").get<std::string>() == "gpt", ValueError, source, ": unknown language model type ",
                j.at("type").dump());
    nn::GPTConfig c;
    c.vocab_size = j.at("vocab_size");
    c.context_length = j.at("context");
    c.num_layers = j.at("layers");
    c.num_heads = j.at("heads");
    c.embed_dim = j.at("width");
    c.mlp_dim = j.at("mlp_width");
    c.dropout = j.at("dropout");
    c.attention_dropout = j.value("attention_dropout", 0.0);  // absent from files written before it existed
    c.bias = j.at("bias");
    c.tie_weights = j.at("tie_weights");
    c.init = j.at("init");
    c.gelu_approximate = j.at("gelu");
    c.layer_norm_eps = j.at("layer_norm_eps");
    return c;
  } catch (const json::exception& e) {
    throw ValueError(source + ": the model description is corrupt: " + e.what());
  }
}

std::string tokenizer_to_json(const text::Tokenizer& tok) {
  RemoveOnExit tmp{temp_json_path()};
  tok.save(tmp.path);
  return io::read_file(tmp.path);
}

std::unique_ptr<text::Tokenizer> tokenizer_from_json(const std::string& text, const std::string& source) {
  RemoveOnExit tmp{temp_json_path()};
  io::write_file_atomic(tmp.path, text);
  try {
    return text::load_tokenizer(tmp.path);
  } catch (const text::TokenizerError& e) {
    throw ValueError(source + ": its tokenizer is corrupt: " + e.what());
  }
}

LmData load_lm_data(const Config& d, std::shared_ptr<text::Tokenizer> tokenizer) {
  d.check_keys({"dataset", "path", "val_path", "format", "tokenizer", "vocab", "merges", "val_fraction", "context"});
  const std::string path = d.require<std::string>("path");
  const std::string tok_kind = d.get<std::string>("tokenizer", "char");
  std::string format = d.get<std::string>("format", ends_with(path, ".bin") ? "shard" : "text");
  if (format != "text" && format != "shard") d.fail("format must be text or shard, got '" + format + "'", "format");
  const double val_fraction = d.get<double>("val_fraction", 0.1);
  if (!d.has("val_path") && !(val_fraction > 0 && val_fraction < 1))
    d.fail("val_fraction must be in (0, 1) (0.1: the last 10% of the tokens), or give val_path", "val_fraction");
  if ((d.has("vocab") || d.has("merges")) && tok_kind != "bpe")
    d.fail("vocab and merges are GPT-2 BPE files: they need tokenizer: bpe", d.has("vocab") ? "vocab" : "merges");

  LmData out;
  // The tokenizer: fitted on the corpus (char), read from GPT-2 files (bpe) or a saved tokenizer file.
  std::string corpus;
  auto read_text = [&](const std::string& p) {
    std::string t;
    try {
      t = io::read_file(p);
    } catch (const io::IoError& e) {
      throw data::DataError::in_file(p, std::string("cannot read the corpus: ") + e.what() +
                                            ". Check data.path (or override it: --set data.path=FILE).");
    }
    if (t.empty())
      throw data::DataError::in_file(p, "the corpus is empty: a language model needs text to learn from. Point "
                                        "data.path at a non-empty text file.");
    return t;
  };
  if (format == "text") corpus = read_text(path);
  const bool fitted_here = !tokenizer && tok_kind == "char";  // then every character of the corpus is known
  if (tokenizer) {
    out.tokenizer = std::move(tokenizer);
  } else if (tok_kind == "char") {
    if (format != "text")
      d.fail("a char tokenizer is fitted on a text corpus; token shards need tokenizer: bpe (with vocab and merges) "
             "or a saved tokenizer .json",
             "tokenizer");
    out.tokenizer = std::make_shared<text::CharTokenizer>(text::CharTokenizer::from_corpus(corpus));
  } else if (tok_kind == "bpe") {
    if (!d.has("vocab") || !d.has("merges"))
      d.fail("tokenizer: bpe needs vocab (GPT-2's encoder.json) and merges (vocab.bpe)", "tokenizer");
    out.tokenizer = std::make_shared<text::BpeTokenizer>(
        text::BpeTokenizer::from_gpt2_files(d.require<std::string>("vocab"), d.require<std::string>("merges")));
  } else if (ends_with(tok_kind, ".json")) {
    out.tokenizer = text::load_tokenizer(tok_kind);
  } else {
    d.fail("tokenizer must be char, bpe, or a saved tokenizer file (.json), got '" + tok_kind + "'", "tokenizer");
  }

  auto stream_of = [&](const std::string& p, const std::string* text) {
    if (format == "shard") return data::TokenStream::from_shard(p);
    std::string t = text ? *text : read_text(p);
    std::vector<int32_t> ids;
    try {
      ids = out.tokenizer->encode(t);
    } catch (const text::TokenizerError& e) {
      throw data::DataError::in_file(p, std::string("cannot tokenize the corpus: ") + e.what() +
                                            (fitted_here ? "" : " (is this the tokenizer the corpus was meant for?)"));
    }
    return data::TokenStream::from_tokens(std::move(ids), fs::path(p).filename().string());
  };
  data::TokenStream all = stream_of(path, format == "text" ? &corpus : nullptr);
  if (d.has("val_path")) {
    out.train = all;
    out.val = stream_of(d.require<std::string>("val_path"), nullptr);
  } else {
    std::tie(out.train, out.val) = data::split_train_val(all, val_fraction);
  }
  out.description = detail::cat(fs::path(path).filename().string(), ": ", all.size(), " tokens (", out.tokenizer->type(),
                                 " tokenizer, vocabulary ", out.tokenizer->vocab_size(), "), ", out.train.size(),
                                 " train / ", out.val.size(), " val");
  return out;
}

std::string lm_metadata(const nn::GPTConfig& cfg, const text::Tokenizer& tok, const json& data_section) {
  json j = {{"format", "cairn.lm/1"},
            {"model", gpt_config_json(cfg)},
            {"tokenizer", json::parse(tokenizer_to_json(tok))},
            {"data", data_section}};
  return j.dump();
}

void save_lm(const std::string& path, const nn::GPT& net, const std::string& metadata) {
  nn::save_tensors(path, net.state_dict(), {{"format", "pt"}, {"cairn.lm", metadata}});
}

LoadedLm load_lm(const std::string& path) {
  json j;
  {
    io::SafetensorsReader reader(path);
    auto it = reader.metadata().find("cairn.lm");
    if (it == reader.metadata().end()) {
      CAIRN_CHECK(reader.metadata().find("cairn.model") == reader.metadata().end(), ValueError, path,
                  ": this is a Cairn classifier model, not a language model; `cairn generate` needs a model trained "
                  "from a config with model: {type: gpt}");
      throw ValueError(path + ": not a Cairn language-model file (its safetensors metadata has no 'cairn.lm' entry)");
    }
    try {
      j = json::parse(it->second);
    } catch (const json::exception& e) {
      throw ValueError(path + ": the language-model description in the metadata is corrupt: " + e.what());
    }
  }
  LoadedLm lm;
  lm.config = gpt_config_from_json(j.value("model", json::object()), path);
  CAIRN_CHECK(j.contains("tokenizer"), ValueError, path, ": the file has no tokenizer; it cannot turn text into tokens");
  lm.tokenizer = tokenizer_from_json(j.at("tokenizer").dump(), path);
  CAIRN_CHECK(static_cast<int64_t>(lm.tokenizer->vocab_size()) <= lm.config.vocab_size, ValueError, path,
              ": its tokenizer has ", lm.tokenizer->vocab_size(), " tokens but the model's vocabulary is ",
              lm.config.vocab_size, "; the file is inconsistent");
  lm.net = std::make_shared<nn::GPT>(lm.config);
  nn::load_weights(path, *lm.net, true);
  lm.net->eval();
  lm.data = j.value("data", json::object());
  return lm;
}

}  // namespace cairn::cli
