#include "cairn/text/tokenizer.h"

#include <algorithm>

#include "cairn/text/detail.h"

namespace cairn::text {
namespace {

using Ids = std::vector<std::int32_t>;

void cut(Ids& ids, std::size_t keep, Side side) {
  if (ids.size() <= keep) return;
  if (side == Side::Right) {
    ids.resize(keep);
  } else {
    ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(keep));
  }
}

}  // namespace

void Tokenizer::check_id(std::int32_t id, std::size_t position) const {
  if (id < 0 || static_cast<std::size_t>(id) >= vocab_size()) {
    throw TokenizerError(type() + " tokenizer: id " + std::to_string(id) + " at position " +
                         std::to_string(position) + " is out of range [0, " + std::to_string(vocab_size()) +
                         "); the ids were probably made by a different tokenizer or vocabulary");
  }
}

BatchEncoding Tokenizer::encode_batch(const std::vector<std::string>& texts, const EncodeOptions& options) const {
  return encode_impl(texts, nullptr, options);
}

BatchEncoding Tokenizer::encode_batch_pairs(const std::vector<std::string>& first,
                                            const std::vector<std::string>& second,
                                            const EncodeOptions& options) const {
  if (first.size() != second.size()) {
    throw TokenizerError("encode_batch_pairs: " + std::to_string(first.size()) + " first sequences but " +
                         std::to_string(second.size()) + " second sequences; pairs need equal counts");
  }
  return encode_impl(first, &second, options);
}

BatchEncoding Tokenizer::encode_impl(const std::vector<std::string>& first, const std::vector<std::string>* second,
                                     const EncodeOptions& options) const {
  const bool pairs = second != nullptr;
  if ((options.truncation || options.padding == Padding::MaxLength) && options.max_length == 0) {
    throw TokenizerError("encode_batch: truncation and padding to max_length need EncodeOptions::max_length > 0");
  }
  SpecialTokenIds special = special_token_ids();
  const bool wrap = options.add_special_tokens && special.cls && special.sep;
  const std::size_t n_special = wrap ? (pairs ? 3 : 2) : 0;
  if (options.truncation && options.max_length < n_special + (pairs ? 2 : 1)) {
    throw TokenizerError("encode_batch: max_length " + std::to_string(options.max_length) +
                         " leaves no room for text next to the " + std::to_string(n_special) +
                         " special tokens; use a larger max_length");
  }
  std::optional<std::int32_t> pad = options.pad_id ? options.pad_id : special.pad;
  if (options.padding != Padding::None) {
    if (!pad) {
      throw TokenizerError("encode_batch: padding requested but the " + type() +
                           " tokenizer has no pad token; set EncodeOptions::pad_id (e.g. to the end-of-text id)");
    }
    check_id(*pad, 0);
  }

  BatchEncoding out;
  const std::size_t n = first.size();
  out.input_ids.resize(n);
  out.attention_mask.resize(n);
  out.token_type_ids.resize(n);
  std::size_t longest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    Ids a = encode(first[i]);
    Ids b;
    if (pairs) b = encode((*second)[i]);
    if (options.truncation) {
      std::size_t budget = options.max_length - n_special;
      if (!pairs) {
        cut(a, budget, options.truncation_side);
      } else {
        std::size_t keep_a = a.size(), keep_b = b.size();
        while (keep_a + keep_b > budget) {  // longest_first: shorten the longer one, the second on ties
          if (keep_a > keep_b) {
            --keep_a;
          } else {
            --keep_b;
          }
        }
        cut(a, keep_a, options.truncation_side);
        cut(b, keep_b, options.truncation_side);
      }
    }
    Ids& ids = out.input_ids[i];
    Ids& types = out.token_type_ids[i];
    ids.reserve(a.size() + b.size() + n_special);
    if (wrap) ids.push_back(*special.cls);
    ids.insert(ids.end(), a.begin(), a.end());
    if (wrap) ids.push_back(*special.sep);
    types.assign(ids.size(), 0);
    if (pairs) {
      ids.insert(ids.end(), b.begin(), b.end());
      if (wrap) ids.push_back(*special.sep);
      types.resize(ids.size(), 1);
    }
    out.attention_mask[i].assign(ids.size(), 1);
    longest = std::max(longest, ids.size());
  }

  if (options.padding == Padding::None) return out;
  std::size_t target = longest;
  if (options.padding == Padding::MaxLength) {
    if (longest > options.max_length) {
      throw TokenizerError("encode_batch: a sequence has " + std::to_string(longest) + " tokens, more than max_length " +
                           std::to_string(options.max_length) + "; enable EncodeOptions::truncation");
    }
    target = options.max_length;
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t missing = target - out.input_ids[i].size();
    auto pad_row = [&](Ids& row, std::int32_t value) {
      if (options.padding_side == Side::Right) {
        row.insert(row.end(), missing, value);
      } else {
        row.insert(row.begin(), missing, value);
      }
    };
    pad_row(out.input_ids[i], *pad);
    pad_row(out.attention_mask[i], 0);
    pad_row(out.token_type_ids[i], 0);
  }
  return out;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  nlohmann::json j = detail::read_json_file(path, "saved tokenizer");
  const std::string& type = detail::require_field(j, "type", nlohmann::json::value_t::string, path).get_ref<const std::string&>();
  if (type == "char") return detail::char_tokenizer_from_json(j, path);
  if (type == "bpe") return detail::bpe_tokenizer_from_json(j, path);
  if (type == "wordpiece") return detail::wordpiece_tokenizer_from_json(j, path);
  throw TokenizerError(path + ": unknown tokenizer type '" + type + "'; expected \"char\", \"bpe\" or \"wordpiece\"");
}

}  // namespace cairn::text
