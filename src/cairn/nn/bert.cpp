#include "cairn/nn/bert.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "cairn/core/autograd/autograd.h"
#include "cairn/nn/transformer_init.h"

namespace cairn::nn {

void validate(const BertConfig& c) {
  auto positive = [](int64_t v, const char* what) {
    CAIRN_CHECK(v > 0, ValueError, "BertConfig: ", what, " must be positive, got ", v);
  };
  positive(c.vocab_size, "vocab_size");
  positive(c.max_position, "max_position");
  positive(c.num_layers, "num_layers");
  positive(c.num_heads, "num_heads");
  positive(c.hidden, "hidden");
  CAIRN_CHECK(c.hidden % c.num_heads == 0, ValueError, "BertConfig: hidden (", c.hidden,
              ") must be a multiple of num_heads (", c.num_heads, ")");
  CAIRN_CHECK(c.mlp_dim == -1 || c.mlp_dim > 0, ValueError, "BertConfig: mlp_dim must be positive or -1, got ",
              c.mlp_dim);
  CAIRN_CHECK(c.type_vocab_size >= 0, ValueError, "BertConfig: type_vocab_size must be >= 0, got ",
              c.type_vocab_size);
  CAIRN_CHECK(c.dropout >= 0 && c.dropout < 1, ValueError, "BertConfig: dropout must be in [0, 1), got ", c.dropout);
  CAIRN_CHECK(c.attention_dropout >= 0 && c.attention_dropout < 1, ValueError,
              "BertConfig: attention_dropout must be in [0, 1), got ", c.attention_dropout);
  CAIRN_CHECK(c.pad_id >= 0 && c.pad_id < c.vocab_size, ValueError, "BertConfig: pad_id ", c.pad_id,
              " is outside the vocabulary [0, ", c.vocab_size, ")");
}

// ---- BertEncoder ----

BertEncoder::BertEncoder(BertConfig config) : Module("BertEncoder"), cfg_(std::move(config)) {
  validate(cfg_);
  configure("", cfg_.seed, std::nullopt);
  const BertConfig& c = cfg_;
  Generator& g = layer_generator();
  auto table = [&](const char* name, int64_t rows) {
    auto e = register_module(name, std::make_shared<Embedding>(rows, c.hidden,
                                                               EmbeddingOptions{.embeddings_initializer = "zeros"}));
    Tensor w = e->weight();
    xfmr::init_embedding(w, "gpt2", g);  // N(0, 0.02): BERT's initializer_range
    return e;
  };
  tok_ = table("tok", c.vocab_size);
  pos_ = register_module("pos", std::make_shared<LearnedPositionalEmbedding>(c.max_position, c.hidden, "zeros"));
  {
    Tensor w = pos_->weight();
    xfmr::init_embedding(w, "gpt2", g);
  }
  if (c.type_vocab_size > 0) seg_ = table("seg", c.type_vocab_size);
  ln_ = register_module("ln", std::make_shared<LayerNormalization>(
                                  LayerNormOptions{.epsilon = c.layer_norm_eps, .input_shape = Shape{c.hidden}}));
  drop_ = register_module("drop", std::make_shared<Dropout>(c.dropout, cfg_.seed ? std::optional(g.next_u64())
                                                                                  : std::nullopt));
  auto list = register_module("blocks", std::make_shared<Module>("ModuleList"));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    auto b = std::make_shared<TransformerEncoderBlock>(TransformerBlockOptions{
        .embed_dim = c.hidden,
        .num_heads = c.num_heads,
        .mlp_dim = c.mlp_dim,
        .pre_norm = false,  // BERT: LN(x + sublayer(x))
        .gelu_approximate = c.gelu_approximate,
        .dropout = c.dropout,
        .attention_dropout = c.attention_dropout,
        .layer_norm_eps = c.layer_norm_eps,
        .init = "gpt2",
        .num_layers = c.num_layers,
        .seed = cfg_.seed ? std::optional<uint64_t>(g.next_u64()) : std::nullopt,
    });
    blocks_.push_back(list->register_module(std::to_string(i), b));
  }
}

std::string BertEncoder::extra_repr() const {
  std::ostringstream os;
  os << "vocab_size=" << cfg_.vocab_size << ", max_position=" << cfg_.max_position << ", num_layers="
     << cfg_.num_layers << ", num_heads=" << cfg_.num_heads << ", hidden=" << cfg_.hidden;
  return os.str();
}

Shape BertEncoder::build_impl(const Shape& in) {
  if (in.size() != 2) throw_bad_input(in, "expected token ids (batch, positions)");
  if (in[1] > cfg_.max_position)
    throw_bad_input(in, detail::cat("at most max_position = ", cfg_.max_position, " positions fit"));
  return {in[0], in[1], cfg_.hidden};
}

Tensor BertEncoder::padding_mask(const Tensor& ids) const {
  Tensor idx = ids.contiguous();
  Tensor mask = Tensor::empty(idx.shape(), DType::u8);
  uint8_t* m = mask.data<uint8_t>();
  const int64_t n = idx.numel();
  if (idx.dtype() == DType::i64) {
    const int64_t* p = idx.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) m[i] = p[i] == cfg_.pad_id;
  } else {
    const int32_t* p = idx.data<int32_t>();
    for (int64_t i = 0; i < n; ++i) m[i] = p[i] == cfg_.pad_id;
  }
  return mask;
}

// ids (B, T) -> tok + pos (+ seg) -> LN -> dropout -> blocks (keys at [PAD] masked) -> (B, T, E)
Tensor BertEncoder::forward(const Tensor& ids, const Tensor& token_types) {
  CAIRN_CHECK(ids.defined() && ids.dim() == 2 && ids.shape()[1] >= 1, ShapeError, where(),
              ": ids must be (batch, positions) with at least one position, got ",
              ids.defined() ? shape_str(ids.shape()) : std::string("an undefined tensor"));
  build(ids.shape());
  Tensor x = pos_->forward((*tok_)(ids));
  if (token_types.defined()) {
    CAIRN_CHECK(seg_ != nullptr, ValueError, where(),
                ": token_types given but the encoder has no segment embeddings (type_vocab_size = 0)");
    CAIRN_CHECK(token_types.shape() == ids.shape(), ShapeError, where(), ": token_types ",
                shape_str(token_types.shape()), " must have the shape of ids ", shape_str(ids.shape()));
    x = add(x, (*seg_)(token_types));
  } else if (seg_) {
    x = add(x, select(seg_->weight(), 0, 0));  // every position is segment 0
  }
  x = (*drop_)((*ln_)(x));
  AttentionOptions masks{.key_padding_mask = padding_mask(ids)};
  for (auto& b : blocks_) x = b->forward(x, masks);
  return x;
}

// ---- BertForMaskedLM ----

namespace {
// The MLM head's container ("mlm": transform, ln, bias); BertForMaskedLM::head runs it with the tied decoder.
// Building it records its (batch, positions, vocabulary) output for summary().
class BertMlmHead : public Module {
 public:
  explicit BertMlmHead(int64_t vocab_size) : Module("BertMlmHead"), vocab_size_(vocab_size) {}

 protected:
  Shape build_impl(const Shape& in) override {
    for (auto& [name, child] : named_children()) child->build(in);
    Shape out = in;
    out.back() = vocab_size_;
    return out;
  }

 private:
  int64_t vocab_size_;
};
}  // namespace

BertForMaskedLM::BertForMaskedLM(BertConfig config) : Module("BertForMaskedLM") {
  validate(config);
  configure("", config.seed, std::nullopt);
  Generator& g = layer_generator();
  const int64_t E = config.hidden, V = config.vocab_size;
  const double eps = config.layer_norm_eps;
  if (config.seed) config.seed = g.next_u64();
  bert_ = register_module("bert", std::make_shared<BertEncoder>(config));
  mlm_ = register_module("mlm", std::make_shared<BertMlmHead>(V));
  transform_ = mlm_->register_module("transform", xfmr::make_dense(E, E, true, "gpt2", 0.02, g));
  ln_ = mlm_->register_module("ln", std::make_shared<LayerNormalization>(
                                       LayerNormOptions{.epsilon = eps, .input_shape = Shape{E}}));
  bias_ = mlm_->register_parameter("bias", zeros({V}));
}

Shape BertForMaskedLM::build_impl(const Shape& in) {
  return mlm_->build(bert_->build(in));
}

// h (..., E) -> LN(gelu(transform(h))) (..., E) -> @ tok.weight^T + bias -> (..., V)
Tensor BertForMaskedLM::head(const Tensor& h) {
  Tensor t = (*ln_)(gelu((*transform_)(h), config().gelu_approximate));
  return linear(t, bert_->token_embedding().weight(), bias_);
}

Tensor BertForMaskedLM::forward(const Tensor& ids) { return head(bert_->forward(ids)); }

MlmOutput BertForMaskedLM::mlm_loss(const Tensor& ids, const Tensor& labels, int64_t ignore_index) {
  labels.check_dtype(DType::i64, "BertForMaskedLM::mlm_loss(labels)");
  CAIRN_CHECK(labels.shape() == ids.shape(), ShapeError, "BertForMaskedLM::mlm_loss: labels ",
              shape_str(labels.shape()), " must have the shape of ids ", shape_str(ids.shape()));
  const Tensor lab = labels.contiguous();
  const int64_t* l = lab.data<int64_t>();
  std::vector<int64_t> rows, targets;
  for (int64_t i = 0; i < lab.numel(); ++i) {
    if (l[i] == ignore_index) continue;
    CAIRN_CHECK(l[i] >= 0 && l[i] < config().vocab_size, IndexError, "BertForMaskedLM::mlm_loss: label ", l[i],
                " at flat position ", i, " is outside the vocabulary [0, ", config().vocab_size, ")");
    rows.push_back(i);
    targets.push_back(l[i]);
  }
  Tensor hidden = bert_->forward(ids);  // (B, T, E)
  MlmOutput out;
  if (rows.empty()) {
    out.loss = scalar_tensor(0.0, hidden.dtype());
    return out;
  }
  const auto M = static_cast<int64_t>(rows.size());
  Tensor chosen = index_select(hidden.reshape({-1, config().hidden}), 0, from_vector(rows));  // (M, E)
  out.logits = head(chosen);                                                                 // (M, V)
  out.targets = from_vector(targets);
  CrossEntropyOptions ce;
  ce.ignore_index = ignore_index;
  out.loss = cross_entropy(out.logits, out.targets, ce);
  const std::vector<int64_t> pred = argmax(out.logits.detach(), 1).to_vector<int64_t>();
  for (int64_t i = 0; i < M; ++i) out.correct += pred[static_cast<size_t>(i)] == targets[static_cast<size_t>(i)];
  return out;
}

// ---- BertClassifier ----

BertClassifier::BertClassifier(BertConfig config, int64_t num_classes, BertClassifierOptions options)
    : Module("BertClassifier"), num_classes_(num_classes), opt_(std::move(options)) {
  validate(config);
  CAIRN_CHECK(num_classes >= 2, ValueError, "BertClassifier: num_classes must be >= 2, got ", num_classes);
  CAIRN_CHECK(opt_.pooling == "cls" || opt_.pooling == "mean", ValueError,
              "BertClassifier: pooling must be \"cls\" or \"mean\", got \"", opt_.pooling, "\"");
  CAIRN_CHECK(opt_.dropout >= 0 && opt_.dropout < 1, ValueError, "BertClassifier: dropout must be in [0, 1), got ",
              opt_.dropout);
  configure("", config.seed, std::nullopt);
  Generator& g = layer_generator();
  const int64_t E = config.hidden;
  const uint64_t drop_seed = g.next_u64();
  if (config.seed) config.seed = g.next_u64();
  bert_ = register_module("bert", std::make_shared<BertEncoder>(config));
  if (opt_.pooling == "cls") {
    pooler_ = register_module("pooler", xfmr::make_dense(E, E, true, "gpt2", 0.02, g));
  }
  drop_ = register_module("drop", std::make_shared<Dropout>(opt_.dropout, drop_seed));
  head_ = register_module("head", xfmr::make_dense(E, num_classes, true, "gpt2", 0.02, g));
}

Shape BertClassifier::build_impl(const Shape& in) {
  const Shape h = bert_->build(in);
  Shape pooled = {h[0], h[2]};  // [CLS] or the mean over positions
  if (pooler_) pooled = pooler_->build(pooled);
  return head_->build(drop_->build(pooled));
}

// ids (B, T) -> hidden (B, T, E) -> pooled (B, E) -> dropout -> head (B, C)
Tensor BertClassifier::forward(const Tensor& ids) {
  Tensor hidden = bert_->forward(ids);
  Tensor pooled;
  if (pooler_) {
    pooled = tanh((*pooler_)(select(hidden, 1, 0)));
  } else {
    // real: (B, T, 1) 1 on tokens, 0 on [PAD]; mean = sum(hidden * real) / count
    Tensor pad = bert_->padding_mask(ids);
    Tensor real = Tensor::empty({pad.shape()[0], pad.shape()[1], 1}, DType::f64);
    const uint8_t* p = pad.data<uint8_t>();
    double* r = real.data<double>();
    for (int64_t i = 0; i < pad.numel(); ++i) r[i] = p[i] ? 0.0 : 1.0;
    real = real.to(hidden.dtype());
    Tensor count = clamp(sum(real, {1}), 1.0, std::nullopt);
    pooled = div(sum(mul(hidden, real), {1}), count);
  }
  return (*head_)((*drop_)(pooled));
}

void BertClassifier::freeze_encoder(int64_t trainable_top_blocks) {
  const auto L = static_cast<int64_t>(bert_->blocks().size());
  CAIRN_CHECK(trainable_top_blocks >= 0 && trainable_top_blocks <= L, ValueError,
              "BertClassifier::freeze_encoder: trainable_top_blocks must be in [0, ", L, "], got ",
              trainable_top_blocks);
  bert_->set_trainable(false);
  for (int64_t i = L - trainable_top_blocks; i < L; ++i) bert_->blocks()[static_cast<size_t>(i)]->set_trainable(true);
}

void BertClassifier::unfreeze_encoder() { bert_->set_trainable(true); }

std::vector<Tensor> BertClassifier::head_parameters() const {
  std::vector<Tensor> out;
  if (pooler_)
    for (const Tensor& p : pooler_->parameters()) out.push_back(p);
  for (const Tensor& p : head_->parameters()) out.push_back(p);
  return out;
}

// ---- pretrained weights ----

namespace {

struct Field {
  const char* key;
  int64_t BertConfig::*member;
};
constexpr Field kIntFields[] = {
    {"bert.vocab_size", &BertConfig::vocab_size},       {"bert.max_position", &BertConfig::max_position},
    {"bert.type_vocab_size", &BertConfig::type_vocab_size}, {"bert.num_layers", &BertConfig::num_layers},
    {"bert.num_heads", &BertConfig::num_heads},         {"bert.hidden", &BertConfig::hidden},
    {"bert.mlp_dim", &BertConfig::mlp_dim},             {"bert.pad_id", &BertConfig::pad_id},
};

int64_t effective_mlp(const BertConfig& c) { return c.mlp_dim > 0 ? c.mlp_dim : 4 * c.hidden; }

}  // namespace

Metadata bert_metadata(const BertConfig& c) {
  Metadata m;
  for (const Field& f : kIntFields) m[f.key] = std::to_string(c.*f.member);
  m["bert.dropout"] = detail::cat(c.dropout);
  m["bert.attention_dropout"] = detail::cat(c.attention_dropout);
  m["bert.layer_norm_eps"] = detail::cat(c.layer_norm_eps);
  m["bert.gelu_approximate"] = c.gelu_approximate;
  m["bert.vocab_id"] = c.vocab_id;
  return m;
}

BertConfig bert_config_from_metadata(const Metadata& m, const std::string& where) {
  BertConfig c;
  auto get = [&](const std::string& key) -> const std::string& {
    auto it = m.find(key);
    CAIRN_CHECK(it != m.end(), ValueError, where, ": no \"", key,
                "\" in the metadata; is this a file written by save_pretrained_bert?");
    return it->second;
  };
  auto number = [&](const std::string& key) {
    const std::string& s = get(key);
    try {
      size_t used = 0;
      double v = std::stod(s, &used);
      if (used == s.size()) return v;
    } catch (const std::exception&) {
    }
    throw ValueError(detail::cat(where, ": metadata \"", key, "\" must be a number, got \"", s, "\""));
  };
  for (const Field& f : kIntFields) c.*f.member = static_cast<int64_t>(number(f.key));
  c.dropout = number("bert.dropout");
  // Files written before attention dropout existed were trained without it.
  c.attention_dropout = m.count("bert.attention_dropout") ? number("bert.attention_dropout") : 0.0;
  c.layer_norm_eps = number("bert.layer_norm_eps");
  c.gelu_approximate = get("bert.gelu_approximate");
  c.vocab_id = get("bert.vocab_id");
  validate(c);
  return c;
}

BertConfig bert_config_from_file(const std::string& path) {
  Metadata m;
  load_tensors(path, &m);
  return bert_config_from_metadata(m, path);
}

void save_pretrained_bert(const std::string& path, const Module& model, const BertConfig& config, const Metadata& extra) {
  Metadata m = bert_metadata(config);
  m.insert(extra.begin(), extra.end());
  m["format"] = "pt";
  save_tensors(path, model.state_dict(), m);
}

void save_pretrained_bert(const std::string& path, BertForMaskedLM& model) {
  save_pretrained_bert(path, model, model.config());
}

std::string PretrainedLoad::report() const {
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return v.empty() ? std::string("none") : s;
  };
  return detail::cat("loaded ", loaded.size(), " tensors; kept initialised (not in the file): ", list(missing),
                     "; ignored (not in the model): ", list(unexpected));
}

PretrainedLoad load_pretrained_bert(const std::string& path, Module& model, const BertConfig& mc) {
  Metadata meta;
  TensorDict file = load_tensors(path, &meta);
  const BertConfig fc = bert_config_from_metadata(meta, path);
  auto same = [&](const char* what, const auto& in_file, const auto& in_model, const char* hint) {
    CAIRN_CHECK(in_file == in_model, ValueError, path, ": the encoder was pretrained with ", what, " = ", in_file,
                " but the model has ", what, " = ", in_model, "; ", hint);
  };
  const char* vocab_hint =
      "fine-tune with the tokenizer saved with the pretrained encoder (its ids index the embedding rows)";
  const char* shape_hint = "build the model from the file's config (bert_config_from_file)";
  same("vocab_size", fc.vocab_size, mc.vocab_size, vocab_hint);
  if (!fc.vocab_id.empty() && !mc.vocab_id.empty()) same("vocab_id", fc.vocab_id, mc.vocab_id, vocab_hint);
  same("pad_id", fc.pad_id, mc.pad_id, vocab_hint);
  same("hidden", fc.hidden, mc.hidden, shape_hint);
  same("num_layers", fc.num_layers, mc.num_layers, shape_hint);
  same("num_heads", fc.num_heads, mc.num_heads, shape_hint);
  same("mlp_dim", effective_mlp(fc), effective_mlp(mc), shape_hint);
  same("max_position", fc.max_position, mc.max_position, shape_hint);
  same("type_vocab_size", fc.type_vocab_size, mc.type_vocab_size, shape_hint);

  PretrainedLoad r;
  std::vector<std::string> absent_encoder;
  for (const auto& [name, t] : model.state_dict()) {
    if (file.contains(name)) r.loaded.push_back(name);
    else if (name.rfind("bert.", 0) == 0) absent_encoder.push_back(name);
  }
  if (!absent_encoder.empty()) {
    std::string list;
    for (const auto& n : absent_encoder) list += (list.empty() ? "" : ", ") + n;
    throw StateDictError(detail::cat(path, ": the file lacks encoder tensors the model has: ", list,
                                     "; was it written by save_pretrained_bert from a model with a \"bert\" encoder?"),
                         absent_encoder, {}, {});
  }
  LoadResult lr = model.load_state_dict(file, /*strict=*/false);
  r.missing = std::move(lr.missing);
  r.unexpected = std::move(lr.unexpected);
  return r;
}

PretrainedLoad load_pretrained_bert(const std::string& path, BertClassifier& model) {
  return load_pretrained_bert(path, model, model.config());
}

}  // namespace cairn::nn
