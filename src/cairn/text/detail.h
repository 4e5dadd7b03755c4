#pragma once
// Internal helpers of the text layer (not part of the public API).
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cairn/text/tokenizer.h"

namespace cairn::text::detail {

// Whole file as bytes. Throws TokenizerError "cannot read <what> '<path>': <reason>".
std::string read_file(const std::string& path, std::string_view what);

// Writes bytes to path atomically: a temp file beside it, fsync, rename over path, fsync of the directory.
// Local to this layer so that text depends on nothing else in Cairn (cairn/io has its own write_file_atomic).
void write_file_atomic(const std::string& path, std::string_view bytes);

// Parses a JSON file; a syntax error becomes TokenizerError naming the file, line, column and reason.
nlohmann::json read_json_file(const std::string& path, std::string_view what);

// "<path>: field '<name>'" lookups that throw TokenizerError naming the file when the field is missing or has the
// wrong JSON type.
const nlohmann::json& require_field(const nlohmann::json& object, const char* name, nlohmann::json::value_t type,
                                    const std::string& path);

// Saved-tokenizer readers, one per "type" (defined next to each tokenizer).
std::unique_ptr<Tokenizer> char_tokenizer_from_json(const nlohmann::json& j, const std::string& path);
std::unique_ptr<Tokenizer> bpe_tokenizer_from_json(const nlohmann::json& j, const std::string& path);
std::unique_ptr<Tokenizer> wordpiece_tokenizer_from_json(const nlohmann::json& j, const std::string& path);

}  // namespace cairn::text::detail
