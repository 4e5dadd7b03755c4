// SafetensorsReader: maps a file and validates its header against hostile input.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/io/safetensors.h"
#include "cairn/io/safetensors_detail.h"

namespace cairn::io {

using detail::format_shape;
using detail::quote;
using Json = nlohmann::json;

// The bytes of a file (mapped) or of a buffer (owned copy).
struct SafetensorsReader::Storage {
  const std::byte* data = nullptr;
  std::size_t size = 0;
  void* mapping = nullptr;
  std::size_t mapping_size = 0;
  std::vector<std::byte> owned;

  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    if (mapping) ::munmap(mapping, mapping_size);
  }
};

namespace {

// Nothing in a valid header nests deeper than 3 (header -> entry -> shape); allow slack for
// unknown fields but stop "[[[[..." bombs early.
constexpr std::size_t kMaxJsonDepth = 16;

// Thrown from inside the JSON parser's callback and turned into a SafetensorsError.
struct HeaderFault {
  std::string what;
};

std::optional<std::uint64_t> as_u64(const Json& j) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>();
  return std::nullopt;  // negative numbers parse as number_integer, fractions as number_float
}

std::string short_dump(const Json& j) {
  return quote(j.dump(-1, ' ', false, Json::error_handler_t::replace), 60);
}

// Parses the header JSON, refusing duplicate keys (which nlohmann would silently overwrite, so
// two tensors could claim one name) and excessive nesting.
Json parse_header_json(std::string_view text) {
  std::vector<std::vector<std::string>> open_keys;  // keys seen in each open object/array
  auto callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        if (open_keys.size() >= kMaxJsonDepth) {
          throw HeaderFault{"JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
        }
        open_keys.emplace_back();
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!open_keys.empty()) open_keys.pop_back();
        break;
      case Json::parse_event_t::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        auto& seen = open_keys.back();
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
          throw HeaderFault{open_keys.size() == 1 ? "tensor " + quote(key) + " appears twice in the header; names must be unique"
                                                  : "key " + quote(key) + " appears twice in one JSON object"};
        }
        seen.push_back(key);
        break;
      }
      case Json::parse_event_t::value:
        break;
    }
    return true;
  };
  return Json::parse(text.begin(), text.end(), callback);
}

}  // namespace

SafetensorsReader::SafetensorsReader(const std::string& path) : source_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw SafetensorsError("cannot open safetensors file '" + path + "': " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd);
    throw SafetensorsError("cannot read safetensors file '" + path + "': " +
                           (S_ISDIR(st.st_mode) ? std::string("it is a directory") : std::strerror(err)));
  }
  storage_ = std::make_unique<Storage>();
  storage_->size = static_cast<std::size_t>(st.st_size);
  if (storage_->size > 0) {  // mmap refuses length 0; an empty file is reported as truncated below
    void* p = ::mmap(nullptr, storage_->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw SafetensorsError("cannot map safetensors file '" + path + "' (" + std::to_string(storage_->size) +
                             " bytes) into memory: " + std::strerror(err));
    }
    storage_->mapping = p;
    storage_->mapping_size = storage_->size;
    storage_->data = static_cast<const std::byte*>(p);
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  parse();
}

SafetensorsReader::SafetensorsReader(std::unique_ptr<Storage> storage, std::string source)
    : storage_(std::move(storage)), source_(std::move(source)) {
  parse();
}

SafetensorsReader SafetensorsReader::from_bytes(std::span<const std::byte> bytes, std::string source) {
  auto storage = std::make_unique<Storage>();
  storage->owned.assign(bytes.begin(), bytes.end());
  storage->data = storage->owned.data();
  storage->size = storage->owned.size();
  return SafetensorsReader(std::move(storage), std::move(source));
}

SafetensorsReader::SafetensorsReader(SafetensorsReader&&) noexcept = default;
SafetensorsReader& SafetensorsReader::operator=(SafetensorsReader&&) noexcept = default;
SafetensorsReader::~SafetensorsReader() = default;

std::uint64_t SafetensorsReader::file_size() const { return storage_ ? storage_->size : 0; }

bool SafetensorsReader::has(std::string_view name) const { return entries_.find(name) != entries_.end(); }

TensorView SafetensorsReader::get(std::string_view name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) {
    std::string some;
    for (std::size_t i = 0; i < names_.size() && i < 5; ++i) some += (i ? ", " : "") + quote(names_[i]);
    if (names_.size() > 5) some += ", ...";
    throw SafetensorsError(source_ + ": no tensor named " + quote(name) + "; the file has " +
                           std::to_string(names_.size()) + " tensors" + (names_.empty() ? "" : ": " + some));
  }
  const Entry& e = it->second;
  return TensorView{it->first, e.dtype, e.shape,
                    std::span<const std::byte>(storage_->data + data_start_ + e.begin, e.end - e.begin)};
}

void SafetensorsReader::parse() {
  const std::uint64_t size = storage_->size;
  const std::byte* bytes = storage_->data;
  const auto fault = [&](const std::string& what) { return SafetensorsError(source_ + ": " + what); };

  // 1. The length prefix.
  if (size < 8) {
    throw fault("the file is truncated: it has " + std::to_string(size) +
                " bytes but a safetensors file starts with an 8-byte header length");
  }
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<std::uint8_t>(bytes[i]);
  if (header_len > kSafetensorsMaxHeaderBytes) {
    throw fault("header length " + std::to_string(header_len) + " (bytes 0-7) exceeds the limit of " +
                std::to_string(kSafetensorsMaxHeaderBytes) + " bytes; this is not a safetensors file or it is corrupt");
  }
  if (header_len > size - 8) {
    throw fault("the file is truncated: its header length says " + std::to_string(header_len) +
                " bytes of JSON follow, so the file needs at least " + std::to_string(8 + header_len) +
                " bytes, but it has " + std::to_string(size));
  }
  data_start_ = 8 + header_len;

  // 2. The JSON header.
  const std::string_view text(reinterpret_cast<const char*>(bytes) + 8, header_len);
  if (text.empty() || text.front() != '{') {
    throw fault("the header (byte 8) does not start with '{'" +
                (text.empty() ? std::string(" but is empty") : ", it starts with " + quote(text.substr(0, 16))) +
                "; this is not a safetensors file or it is corrupt");
  }
  // nlohmann's lexer takes a NUL byte for the end of input, so "{}\0garbage" would pass; valid JSON
  // never holds a raw NUL (strings must escape control characters), so refuse it here.
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    throw fault("the header is not valid JSON: NUL byte at file byte " + std::to_string(8 + nul));
  }
  Json header;
  try {
    header = parse_header_json(text);
  } catch (const HeaderFault& f) {
    throw fault("invalid header: " + f.what);
  } catch (const Json::exception& e) {
    // parse_error knows the byte; out_of_range (a number like 1e999 that overflows a double) does not.
    std::string msg = e.what();
    if (const auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
    const auto* pe = dynamic_cast<const Json::parse_error*>(&e);
    throw fault("the header is not valid JSON" + (pe ? " near file byte " + std::to_string(7 + pe->byte) : "") +
                ": " + quote(msg, 200));
  }
  if (!header.is_object()) {
    throw fault("the header is JSON but not an object");  // unreachable after the '{' check; kept for safety
  }

  // 3. Every entry on its own.
  struct Located {
    const std::string* name;
    const Entry* entry;
  };
  for (auto& [name, value] : header.items()) {
    const std::string where = "tensor " + quote(name) + ": ";
    if (name == "__metadata__") {
      if (!value.is_object()) throw fault("'__metadata__' must be an object of strings, got " + short_dump(value));
      for (auto& [k, v] : value.items()) {
        if (!v.is_string()) {
          throw fault("'__metadata__' entry " + quote(k) + " must be a string, got " + short_dump(v));
        }
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    if (!value.is_object()) throw fault(where + "the entry must be a JSON object, got " + short_dump(value));
    Entry e;
    const auto dtype = value.find("dtype");
    if (dtype == value.end() || !dtype->is_string()) throw fault(where + "missing or non-string 'dtype'");
    e.dtype = dtype->get<std::string>();
    const auto elem_size = safetensors_dtype_size(e.dtype);
    if (!elem_size) {
      throw fault(where + "dtype " + quote(e.dtype) + " is not a safetensors dtype (expected one of " +
                  detail::known_dtypes() + ")");
    }
    const auto shape = value.find("shape");
    if (shape == value.end() || !shape->is_array()) throw fault(where + "missing 'shape' array");
    for (const auto& d : *shape) {
      const auto v = as_u64(d);
      if (!v || *v > static_cast<std::uint64_t>(INT64_MAX)) {
        throw fault(where + "shape " + short_dump(*shape) + " must hold non-negative integers");
      }
      e.shape.push_back(static_cast<std::int64_t>(*v));
    }
    const auto need = detail::checked_nbytes(e.shape, *elem_size);
    if (!need) {
      throw fault(where + e.dtype + " " + format_shape(e.shape) + " has more elements or bytes than fit in 64 bits");
    }
    const auto offsets = value.find("data_offsets");
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 || !as_u64((*offsets)[0]) ||
        !as_u64((*offsets)[1])) {
      throw fault(where + "'data_offsets' must be [begin, end] with non-negative integers, got " +
                  (offsets == value.end() ? std::string("nothing") : short_dump(*offsets)));
    }
    e.begin = *as_u64((*offsets)[0]);
    e.end = *as_u64((*offsets)[1]);
    if (e.end < e.begin) {
      throw fault(where + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  "] end before they begin");
    }
    if (e.end - e.begin != *need) {
      throw fault(where + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] hold " +
                  std::to_string(e.end - e.begin) + " bytes but " + e.dtype + " " + format_shape(e.shape) +
                  " needs " + std::to_string(*need) + " bytes; the file is truncated or corrupt");
    }
    entries_.emplace(name, std::move(e));
  }

  // 4. Together, the tensors must tile the data section exactly.
  std::vector<Located> order;
  order.reserve(entries_.size());
  for (const auto& [name, e] : entries_) order.push_back({&name, &e});
  std::sort(order.begin(), order.end(), [](const Located& a, const Located& b) {
    if (a.entry->begin != b.entry->begin) return a.entry->begin < b.entry->begin;
    if (a.entry->end != b.entry->end) return a.entry->end < b.entry->end;
    return *a.name < *b.name;
  });
  std::uint64_t pos = 0;
  const Located* prev = nullptr;
  for (const auto& t : order) {
    const auto range = [](const Located& l) {
      return "[" + std::to_string(l.entry->begin) + ", " + std::to_string(l.entry->end) + "]";
    };
    if (t.entry->begin > pos) {
      throw fault("tensor " + quote(*t.name) + " starts at data offset " + std::to_string(t.entry->begin) + " but " +
                  (prev ? "the previous tensor " + quote(*prev->name) + " ends at " + std::to_string(pos)
                        : std::string("the first tensor must start at 0")) +
                  "; bytes [" + std::to_string(pos) + ", " + std::to_string(t.entry->begin) +
                  ") belong to no tensor, which the format forbids");
    }
    if (t.entry->begin < pos) {
      throw fault("tensors " + quote(*prev->name) + " data_offsets " + range(*prev) + " and " + quote(*t.name) +
                  " data_offsets " + range(t) + " overlap");
    }
    pos = t.entry->end;
    prev = &t;
    names_.push_back(*t.name);
  }
  const std::uint64_t data_size = size - data_start_;
  if (pos > data_size) {
    // data_start_ + pos can exceed 2^64 for a hostile header; say so rather than print a wrapped sum.
    const std::string expected = pos > UINT64_MAX - data_start_ ? std::string("more than 2^64")
                                                                 : std::to_string(data_start_ + pos);
    throw fault("the file is truncated: its header describes " + std::to_string(pos) +
                " bytes of tensor data, so the file should be 8 + " + std::to_string(header_len) + " + " +
                std::to_string(pos) + " = " + expected + " bytes, but it has " + std::to_string(size) + " bytes");
  }
  if (pos < data_size) {
    throw fault(std::to_string(data_size - pos) + " bytes follow the last tensor (tensor data ends at file byte " +
                std::to_string(data_start_ + pos) + " of " + std::to_string(size) +
                "); the format forbids trailing bytes, so the file is corrupt or was appended to");
  }
}

}  // namespace cairn::io
