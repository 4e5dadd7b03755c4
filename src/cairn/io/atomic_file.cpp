#include "cairn/io/atomic_file.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cairn::io {
namespace {

// Small writes (a JSON header, a row) are gathered so each costs no system call; large ones
// (tensor payloads) bypass the buffer.
constexpr std::size_t kBufferSize = 1 << 16;

std::string os_error(int err) { return std::strerror(err); }

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string basename_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Makes the rename of a file in `dir` durable. Some file systems cannot fsync a directory
// (EINVAL); there is nothing more to do on those.
int fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = 0;
  if (::fsync(fd) != 0 && errno != EINVAL) err = errno;
  ::close(fd);
  return err;
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  if (path_.empty() || path_.back() == '/') {
    throw IoError("cannot write '" + path_ + "': the path does not name a file");
  }
  // A name unique to this process and call; O_EXCL guards against anything else using it. The
  // mode 0666 lets the umask decide permissions, as for any new file.
  static std::atomic<unsigned long> counter{0};
  const std::string prefix = directory_of(path_) + "/." + basename_of(path_) + "." + std::to_string(::getpid()) + ".";
  for (int attempt = 0; attempt < 100; ++attempt) {
    temp_path_ = prefix + std::to_string(counter.fetch_add(1)) + ".tmp";
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) return;
    if (errno != EEXIST) {
      const int err = errno;
      throw IoError("cannot write '" + path_ + "': creating temporary file '" + temp_path_ + "' failed: " + os_error(err));
    }
  }
  throw IoError("cannot write '" + path_ + "': no free temporary file name after 100 attempts (stale '" + prefix + "*.tmp' files?)");
}

AtomicFile::~AtomicFile() { abort(); }

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(other.fd_),
      buffer_(std::move(other.buffer_)),
      bytes_written_(other.bytes_written_),
      committed_(other.committed_) {
  other.fd_ = -1;
  other.temp_path_.clear();
}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    abort();
    path_ = std::move(other.path_);
    temp_path_ = std::move(other.temp_path_);
    fd_ = other.fd_;
    buffer_ = std::move(other.buffer_);
    bytes_written_ = other.bytes_written_;
    committed_ = other.committed_;
    other.fd_ = -1;
    other.temp_path_.clear();
  }
  return *this;
}

void AtomicFile::abort() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!committed_ && !temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
  }
  temp_path_.clear();
  buffer_.clear();
}

void AtomicFile::fail(const std::string& what, int err) {
  const std::string temp = temp_path_;
  abort();
  throw IoError("cannot write '" + path_ + "': " + what + " (temporary file '" + temp + "'): " + os_error(err) +
                "; the original file, if any, is unchanged");
}

void AtomicFile::write_all(const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd_, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed after " + std::to_string(bytes_written_) + " bytes", errno);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::flush_buffer() {
  if (buffer_.empty()) return;
  write_all(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void AtomicFile::write(std::string_view bytes) {
  if (fd_ < 0) {
    throw std::logic_error("AtomicFile::write('" + path_ + "') called after commit() or abort()");
  }
  if (buffer_.size() + bytes.size() <= kBufferSize) {
    if (buffer_.capacity() < kBufferSize) buffer_.reserve(kBufferSize);
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  } else {
    flush_buffer();
    write_all(bytes.data(), bytes.size());
  }
  bytes_written_ += bytes.size();
}

void AtomicFile::write(std::span<const std::byte> bytes) {
  write(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

void AtomicFile::commit() {
  if (fd_ < 0) {
    throw std::logic_error("AtomicFile::commit('" + path_ + "') called after commit() or abort()");
  }
  flush_buffer();
  // The data must be on disk before the rename publishes it, or a crash could leave the new name
  // pointing at an empty or partial file.
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    fail("close failed", errno);
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    fail("renaming the temporary file over the target failed", errno);
  }
  committed_ = true;
  temp_path_.clear();
  buffer_ = {};
  if (const int err = fsync_directory(directory_of(path_)); err != 0) {
    throw IoError("wrote '" + path_ + "' but could not fsync its directory '" + directory_of(path_) +
                  "': " + os_error(err) + "; the new file is in place but may not survive a power loss");
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  file.write(bytes);
  file.commit();
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw IoError("cannot read '" + path + "': " + os_error(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw IoError("cannot read '" + path + "': fstat failed: " + os_error(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw IoError("cannot read '" + path + "': it is a directory, expected a file");
  }
  std::string out;
  // The size is only a hint: files in /proc report 0 and files may grow; read to end of file.
  if (S_ISREG(st.st_mode) && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw IoError("cannot read '" + path + "': read failed after " + std::to_string(out.size()) +
                    " bytes: " + os_error(err));
    }
    out.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace cairn::io
