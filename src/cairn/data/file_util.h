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
//
// A mapping reserves the file's whole size of address space, which RLIMIT_AS (`ulimit -v`) counts: a 3 GB file
// cannot be mapped under a 1 GiB limit. Access::Pread does not map: bytes() is empty and read_at() reads with
// pread(2), so neither the address space nor the resident set grows with the file (the page cache still
// serves the reads). read_at() works in every mode.
class MappedFile {
 public:
  enum class Access { Sequential, Random, Pread };
  MappedFile() = default;
  // Throws DataError if the file cannot be opened, is not a regular file, or cannot be mapped. With
  // pread_if_unmappable, a mapping refused for lack of address space (ENOMEM) falls back to Access::Pread.
  explicit MappedFile(const std::filesystem::path& path, Access access = Access::Sequential,
                      bool pread_if_unmappable = false);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // The mapped bytes; empty when not mapped (Access::Pread, or the fallback was taken).
  std::span<const uint8_t> bytes() const { return {data_, data_ ? size_ : 0}; }
  const char* chars() const { return reinterpret_cast<const char*>(data_); }
  size_t size() const { return size_; }
  bool mapped() const { return data_ != nullptr || size_ == 0; }
  const std::string& path() const { return path_; }
  // Copies bytes [offset, offset + out.size()) into out (=). Thread-safe. Throws DataError naming the file and
  // offset if the range is past the end or the read fails.
  void read_at(uint64_t offset, std::span<uint8_t> out) const;

 private:
  void release() noexcept;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;  // open only when not mapped
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
