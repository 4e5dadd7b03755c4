// File access shared by the readers: whole-file reads, read-only memory maps and atomic writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace cairn::data {

// Reads a whole file into memory. Throws DataError (naming the file and errno's reason) if it cannot be read.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

// A read-only memory map of a whole file (MAP_SHARED, PROT_READ): pages come from the page cache on demand,
// so files larger than memory can be read. An empty file maps to an empty span. Movable, not copyable.
class MappedFile {
 public:
  enum class Access { Sequential, Random };
  MappedFile() = default;
  // Throws DataError if the file cannot be opened, is not a regular file, or cannot be mapped.
  explicit MappedFile(const std::filesystem::path& path, Access access = Access::Sequential);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const char* chars() const { return reinterpret_cast<const char*>(data_); }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void release() noexcept;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Writes a file atomically: the data goes to a temporary file in the same folder, which is fsync'ed and then
// renamed over `path`, so readers see either the old file or the complete new one, never a torn write.
// The destructor removes the temporary file if commit() was not reached (e.g. an exception unwound).
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::filesystem::path& path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t size);  // appends at the current position
  void pwrite(const void* data, size_t size, uint64_t offset);  // writes at an absolute offset (headers)
  uint64_t bytes_written() const { return written_; }
  // fsync + rename + fsync of the folder. After commit() the writer is closed.
  void commit();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::filesystem::path tmp_path_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

// Convenience: atomically replaces `path` with `bytes`.
void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes);

}  // namespace cairn::data
