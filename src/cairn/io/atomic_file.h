// Whole-file reads and crash-safe writes.
//
// A file written here is either the complete old contents or the complete new contents, never a
// mix, even if the process dies or the machine loses power half-way: the bytes go to a temporary
// file in the same directory, which is fsync'ed, renamed over the target (atomic on POSIX file
// systems) and then the directory is fsync'ed so the rename itself is durable.
//
//   cairn::io::AtomicFile out("run/model.safetensors");
//   out.write(header);
//   for (auto& chunk : chunks) out.write(chunk);
//   out.commit();            // without this, the destructor removes the temporary file
//
// Every failure throws IoError naming the path and the operating system's reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::io {

// Base of every error thrown by the io layer (SafetensorsError derives from it).
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Streams bytes into `path` atomically.
//
// Requires: the directory of `path` exists and is writable.
// Guarantees: until commit() returns, `path` is untouched (old contents, or absent). After commit()
//   returns, `path` holds exactly the bytes written, durably. The temporary file
//   "<dir>/.<name>.<pid>.<n>.tmp" is removed on every failure and by the destructor if commit() was
//   never called. The new file gets mode 0666 minus the umask, like any newly created file.
//   If `path` is a symbolic link, the link itself is replaced, not the file it points to.
// Not thread-safe: one AtomicFile is used by one thread at a time.
class AtomicFile {
 public:
  // Creates the temporary file. Throws IoError if it cannot (e.g. missing directory, no permission).
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // Removes the temporary file unless commit() succeeded. Never throws.

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends bytes (buffered). Throws IoError on a write error such as a full disk, and
  // std::logic_error if called after commit() or abort().
  void write(std::string_view bytes);
  void write(std::span<const std::byte> bytes);

  // Flushes, fsyncs, renames the temporary file over the target and fsyncs the directory.
  // Throws IoError on failure; the temporary file is then removed and the target left as it was
  // (except when only the final directory fsync fails: the new file is in place, the error says so).
  void commit();

  // Discards everything written and removes the temporary file; the target stays untouched.
  void abort() noexcept;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  std::uint64_t bytes_written() const { return bytes_written_; }
  bool committed() const { return committed_; }

 private:
  void flush_buffer();
  void write_all(const char* data, std::size_t size);
  void fail(const std::string& what, int err);  // removes the temp file, throws IoError

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  std::vector<char> buffer_;
  std::uint64_t bytes_written_ = 0;
  bool committed_ = false;
};

// Writes `bytes` to `path` atomically (see AtomicFile). Throws IoError on failure, leaving the old
// file intact and no temporary file behind.
void write_file_atomic(const std::string& path, std::string_view bytes);

// Returns the whole contents of a regular file. Throws IoError if it does not exist, is a
// directory, or cannot be read, naming the path and the reason.
std::string read_file(const std::string& path);

}  // namespace cairn::io
