// Helpers shared by the safetensors reader and writer; not part of the public API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::io::detail {

// "[10, 20]"
std::string format_shape(const std::vector<std::int64_t>& shape);

// A tensor name (or any untrusted text) fit for an error message: quoted, non-printable bytes as
// \xNN, cut after `max_chars` characters so a hostile 1 MB name cannot flood a log.
std::string quote(std::string_view text, std::size_t max_chars = 80);

// numel * element_size if every dimension is >= 0 and neither the element count (as int64) nor
// the byte count (as uint64) overflows; nullopt otherwise.
std::optional<std::uint64_t> checked_nbytes(const std::vector<std::int64_t>& shape, std::size_t element_size);

// "F64, F32, ..." for error messages.
std::string known_dtypes();

}  // namespace cairn::io::detail
