#include "cairn/data/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "cairn/data/error.h"

namespace cairn::data {

namespace {
std::string errno_text() { return std::strerror(errno); }

// Opens for reading and checks that the path is a regular file (a folder or a FIFO would make read() fail or
// block in confusing ways).
int open_regular(const std::filesystem::path& path, struct stat& st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw DataError::in_file(path.string(), "cannot open: " + errno_text() + ". Check that the path exists and is readable.");
  }
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw DataError::in_file(path.string(), "not a regular file. Pass the path of a data file, not a folder.");
  }
  return fd;
}
}  // namespace

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path) {
  struct stat st {};
  int fd = open_regular(path, st);
  std::vector<uint8_t> out(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string reason = errno_text();
      ::close(fd);
      throw DataError::at_byte(path.string(), static_cast<int64_t>(done), "read failed: " + reason);
    }
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

MappedFile::MappedFile(const std::filesystem::path& path, Access access, bool pread_if_unmappable) : path_(path.string()) {
  struct stat st {};
  int fd = open_regular(path, st);
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0 && access != Access::Pread) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      if (err == ENOMEM && pread_if_unmappable) {
        fd_ = fd;  // keep it for pread
        return;
      }
      ::close(fd);
      throw DataError::in_file(path_, "mmap failed: " + std::string(std::strerror(err)) +
                                          (err == ENOMEM ? ". The address-space limit (ulimit -v) is smaller than the "
                                                           "file; raise it or read the file with Access::Pread."
                                                         : ""));
    }
    ::madvise(p, size_, access == Access::Sequential ? MADV_SEQUENTIAL : MADV_RANDOM);
    data_ = static_cast<const uint8_t*>(p);
  } else if (size_ > 0) {
    fd_ = fd;
    return;
  }
  ::close(fd);  // the mapping keeps the file alive
}

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.data_ = nullptr;
    other.size_ = 0;
    other.fd_ = -1;
  }
  return *this;
}

void MappedFile::release() noexcept {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
  data_ = nullptr;
  size_ = 0;
  fd_ = -1;
}

void MappedFile::read_at(uint64_t offset, std::span<uint8_t> out) const {
  if (offset > size_ || out.size() > size_ - offset) {
    throw DataError::at_byte(path_, static_cast<int64_t>(offset),
                             "read of " + std::to_string(out.size()) + " bytes past the end of a file of " +
                                 std::to_string(size_) + " bytes");
  }
  if (data_ != nullptr) {
    std::memcpy(out.data(), data_ + offset, out.size());
    return;
  }
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw DataError::at_byte(path_, static_cast<int64_t>(offset + done),
                               n < 0 ? "read failed: " + errno_text() : std::string("the file shrank while being read"));
    }
    done += static_cast<size_t>(n);
  }
}

AtomicFileWriter::AtomicFileWriter(const std::filesystem::path& path) : path_(path) {
  std::random_device rd;
  tmp_path_ = path;
  tmp_path_ += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd() & 0xffffff);
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw DataError::in_file(path.string(), "cannot create temporary file " + tmp_path_.string() + ": " + errno_text() +
                                                ". Check that the folder exists and is writable.");
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
  }
}

void AtomicFileWriter::write(const void* data, size_t size) {
  pwrite(data, size, written_);
}

void AtomicFileWriter::pwrite(const void* data, size_t size, uint64_t offset) {
  if (fd_ < 0) throw DataError::in_file(path_.string(), "write after commit()");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw DataError::at_byte(path_.string(), static_cast<int64_t>(offset), "write failed: " + errno_text());
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
    if (offset > written_) written_ = offset;
  }
}

void AtomicFileWriter::commit() {
  if (fd_ < 0) throw DataError::in_file(path_.string(), "commit() called twice");
  if (::fsync(fd_) != 0) throw DataError::in_file(path_.string(), "fsync failed: " + errno_text());
  if (::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(tmp_path_.c_str());
    throw DataError::in_file(path_.string(), "close failed: " + errno_text());
  }
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    std::string reason = errno_text();
    ::unlink(tmp_path_.c_str());
    throw DataError::in_file(path_.string(), "rename from temporary file failed: " + reason);
  }
  // Persist the rename itself: fsync the containing folder.
  std::filesystem::path dir = path_.parent_path();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  AtomicFileWriter w(path);
  w.write(bytes.data(), bytes.size());
  w.commit();
}

}  // namespace cairn::data
